"""Training data: random patches from a glob of images or a TFDS dataset."""

import tensorflow as tf

# load_images and DataError are part of this module's interface.
from bls2017.core.patches import (  # pylint: disable=unused-import
    DataError, load_images, random_patches)


def patch_dataset(arrays, patchsize, batchsize, seed=None):
  """tf.data pipeline of uint8 batches [batchsize, patchsize, patchsize, C]."""
  channels = arrays[0].shape[-1]
  spec = tf.TensorSpec((patchsize, patchsize, channels), tf.uint8)
  dataset = tf.data.Dataset.from_generator(
      lambda: random_patches(arrays, patchsize, seed), output_signature=spec)
  return dataset.batch(batchsize, drop_remainder=True).prefetch(
      tf.data.AUTOTUNE)


def tfds_dataset(name, split, patchsize, batchsize, channels):
  """Random patches from a TFDS image dataset (default: CLIC, as in TFC)."""
  import tensorflow_datasets as tfds  # Slow import; only this path needs it.
  try:
    dataset = tfds.load(name, split=split, shuffle_files=True)
  except Exception as e:  # TFDS raises many types for "could not download".
    raise DataError(
        f"Could not load TFDS dataset {name!r} ({type(e).__name__}: "
        f"{str(e).splitlines()[0] if str(e) else ''}). Without network "
        "access, pass local images with --train_glob, e.g. "
        "--train_glob='photos/**/*.png'.") from e
  size = (patchsize, patchsize)

  def big_enough(item):
    return tf.reduce_all(tf.shape(item["image"])[:2] >= patchsize)

  def crop(item):
    image = item["image"]
    if channels == 1:
      image = tf.image.rgb_to_grayscale(image)
    return tf.image.random_crop(image, size + (channels,))

  dataset = dataset.filter(big_enough).map(crop).repeat()
  return dataset.batch(batchsize, drop_remainder=True).prefetch(
      tf.data.AUTOTUNE)

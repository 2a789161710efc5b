"""Training data: random patches from a glob of images or a TFDS dataset."""

import glob as glob_lib

import numpy as np
import tensorflow as tf

from bls2017 import images


class DataError(ValueError):
  """Training data is missing or unusable."""


def load_images(pattern, channels, min_size):
  """Decodes every image matching `pattern` once; drops ones below min_size.

  Returns a list of uint8 arrays [H, W, channels]. Decoding a PNG costs more
  than a training step's worth of cropping, so it is done once, up front.
  """
  paths = sorted(glob_lib.glob(pattern, recursive=True))
  if not paths:
    raise DataError(f"--train_glob {pattern!r} matches no files.")
  arrays, skipped = [], 0
  for path in paths:
    array = images.read(path, channels)
    if min(array.shape[:2]) < min_size:
      skipped += 1
      continue
    arrays.append(array)
  if not arrays:
    raise DataError(
        f"None of the {len(paths)} images matching {pattern!r} is at least "
        f"{min_size}x{min_size} pixels; lower --patchsize.")
  if skipped:
    tf.get_logger().info("Skipped %d images smaller than %d px.", skipped,
                         min_size)
  return arrays


def random_patches(arrays, patchsize, seed=None):
  """Endless generator of random patchsize^2 crops, randomly mirrored."""
  rng = np.random.default_rng(seed)
  # Sample images in proportion to their area, so every pixel is as likely.
  areas = np.array([a.shape[0] * a.shape[1] for a in arrays], np.float64)
  weights = areas / areas.sum()
  while True:
    array = arrays[rng.choice(len(arrays), p=weights)]
    top = rng.integers(array.shape[0] - patchsize + 1)
    left = rng.integers(array.shape[1] - patchsize + 1)
    patch = array[top:top + patchsize, left:left + patchsize]
    yield patch[:, ::-1] if rng.random() < .5 else patch


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

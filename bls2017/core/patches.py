"""Training patches from a glob of images, in NumPy alone.

Shared by the TensorFlow trainer (`bls2017.core.data` wraps it in tf.data) and
the JAX trainer (`bls2017.jax_twin`), which runs where TensorFlow is not
installed -- so this module imports neither framework.

    images on disk --load_images (once)--> [uint8 H x W x C, ...]
        --random_patch (image chosen in proportion to its area, random
          crop, mirrored left-right with probability 1/2)--> patch
"""

import glob as glob_lib
import logging

import numpy as np

from bls2017.core import images


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
    logging.getLogger(__name__).info(
        "Skipped %d images smaller than %d px.", skipped, min_size)
  return arrays


def area_weights(arrays):
  """Probability of drawing each image: its share of all pixels, so that
  every pixel is as likely to be in a patch."""
  areas = np.array([a.shape[0] * a.shape[1] for a in arrays], np.float64)
  return areas / areas.sum()


def random_patch(arrays, weights, patchsize, rng):
  """One random patchsize^2 crop, mirrored left-right with probability 1/2."""
  array = arrays[rng.choice(len(arrays), p=weights)]
  top = rng.integers(array.shape[0] - patchsize + 1)
  left = rng.integers(array.shape[1] - patchsize + 1)
  patch = array[top:top + patchsize, left:left + patchsize]
  return patch[:, ::-1] if rng.random() < .5 else patch


def random_patches(arrays, patchsize, seed=None):
  """Endless generator of `random_patch`es from one random stream."""
  rng = np.random.default_rng(seed)
  weights = area_weights(arrays)
  while True:
    yield random_patch(arrays, weights, patchsize, rng)


def batch_at(arrays, weights, patchsize, batchsize, seed, step):
  """The batch [batchsize, patchsize, patchsize, C] of training step `step`.

  A pure function of (seed, step): a run that resumes at any step draws
  exactly the batches that an uninterrupted run would have drawn.
  """
  rng = np.random.default_rng((seed, step))
  return np.stack([random_patch(arrays, weights, patchsize, rng)
                   for _ in range(batchsize)])

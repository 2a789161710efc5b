"""Training photographs as the paper prepared them, decoded once and cached.

    PNG/JPEG files --decode--> uint8 [H, W, C]
        --downsample by a random factor f (one per image, from the seed)-->
        uint8 [~f H, ~f W, C]  --(cache file, keyed by files and settings)-->
        patches.batch_at(step) in the trainer

The paper (section 3) trained on ImageNet photographs "downsampled by a
random factor" before cropping, which also removes JPEG's block artefacts.
f is uniform in `downsample` = (lo, hi), raised where needed so that the
shorter side keeps at least `min_side` pixels (images shorter than that
are dropped). Pillow's Lanczos filter does the resampling, antialiased.

NumPy and Pillow only: the cache is built before TensorFlow loads.
"""

import glob as glob_lib
import hashlib
import json
import os

import numpy as np
from PIL import Image

from bls2017.core import images
from bls2017.core.patches import DataError

CACHE_VERSION = 1  # Bumped when what a cache file holds changes.


def paths_of(data_dir, patterns):
  """Sorted files under data_dir matching any of the globs `patterns`."""
  found = set()
  for pattern in patterns:
    found.update(glob_lib.glob(os.path.join(data_dir, pattern),
                               recursive=True))
  if not found:
    raise DataError(f"no training images match {', '.join(patterns)} "
                    f"under {data_dir}.")
  return sorted(found)


def downsample_factor(shape, downsample, min_side, rng):
  """The random factor for an image of `shape`: uniform in downsample,
  at least min_side / shorter side, at most 1."""
  low, high = downsample
  floor = min_side / min(shape[:2])
  return min(1.0, max(floor, rng.uniform(low, high)))


def downsampled(array, factor):
  """uint8 image resized by `factor` (Lanczos, antialiased)."""
  if factor >= 1:
    return array
  height, width = array.shape[:2]
  size = (max(1, round(width * factor)), max(1, round(height * factor)))
  image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
  out = np.asarray(image.resize(size, Image.Resampling.LANCZOS))
  return out[..., None] if out.ndim == 2 else out


def prepare(paths, channels, downsample, min_side, seed):
  """The list of prepared uint8 arrays, one per usable path."""
  arrays = []
  for path in paths:
    array = images.read(path, channels)
    if min(array.shape[:2]) < min_side:
      continue
    # One stream per image, so that adding a file changes no other image.
    name = os.path.basename(path).encode()
    rng = np.random.default_rng(
        [seed, int.from_bytes(hashlib.sha256(name).digest()[:8], "little")])
    arrays.append(downsampled(
        array, downsample_factor(array.shape, downsample, min_side, rng)))
  if not arrays:
    raise DataError(f"none of the {len(paths)} training images has a "
                    f"side of at least {min_side} pixels.")
  return arrays


def cache_key(paths, channels, downsample, min_side, seed):
  """Names what a cache file holds: the files (name, size, time) and the
  settings."""
  digest = hashlib.sha256(json.dumps(
      [CACHE_VERSION, channels, list(downsample), min_side, seed,
       [(os.path.basename(p), os.path.getsize(p), int(os.path.getmtime(p)))
        for p in paths]]).encode())
  return digest.hexdigest()[:16]


def load(data_dir, patterns, channels, downsample, min_side, seed,
         cache_dir=None):
  """The prepared training images, from cache_dir when it holds them
  (else prepared and, with a cache_dir, stored there)."""
  paths = paths_of(data_dir, patterns)
  if cache_dir is None:
    return prepare(paths, channels, downsample, min_side, seed)
  key = cache_key(paths, channels, downsample, min_side, seed)
  path = os.path.join(cache_dir, f"photos-{key}.npz")
  if os.path.exists(path):
    with np.load(path) as archive:
      return [archive[f"image_{i}"] for i in range(len(archive.files))]
  arrays = prepare(paths, channels, downsample, min_side, seed)
  os.makedirs(cache_dir, exist_ok=True)
  with images.atomic_output(path) as f:
    np.savez(f, **{f"image_{i}": a for i, a in enumerate(arrays)})
  return arrays

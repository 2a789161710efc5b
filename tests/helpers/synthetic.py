"""Deterministic synthetic images and data files for tests."""

import gzip
import os

import numpy as np


def synthetic_image(height, width, channels=3):
  """A deterministic, photo-like uint8 image: gradients plus texture."""
  i, j, c = np.meshgrid(np.arange(height), np.arange(width),
                        np.arange(channels), indexing="ij")
  value = (96 + 60 * np.sin(i / 7.0 + c) + 50 * np.cos(j / 11.0 - c)
           + 20 * np.sin((i * j) / 37.0))
  return np.clip(value, 0, 255).astype(np.uint8)


def integer_image(height, width, channels=3):
  """A deterministic image from integer arithmetic only (for golden hashes:
  no floating-point function whose last bit could differ between builds)."""
  i, j, c = np.meshgrid(np.arange(height), np.arange(width),
                        np.arange(channels), indexing="ij")
  value = (i * j) // 9 + 2 * i + 3 * j + 60 * c + (i // 8 + j // 8) % 3 * 40
  return (value % 256).astype(np.uint8)


def disc_digits(count, seed):
  """Digit-sized test images: a bright disc of random centre and radius.

  Unlike thin strokes, a disc covers enough pixels that the latents must
  encode it; predicting a mean image is not nearly as good.
  """
  rng = np.random.default_rng(seed)
  i, j = np.mgrid[:28, :28]
  images = np.zeros((count, 28, 28), np.uint8)
  for image in images:
    ci, cj = rng.uniform(7, 21, 2)
    radius = rng.uniform(3, 7)
    image[(i - ci) ** 2 + (j - cj) ** 2 <= radius ** 2] = 255
  return images


def write_idx(path, array):
  """Writes `array` as a gzipped IDX file (MNIST's format)."""
  header = bytes([0, 0, 8, array.ndim]) + b"".join(
      int(n).to_bytes(4, "big") for n in array.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


def write_training_images(directory, sizes):
  """synthetic_image PNGs of the given (height, width) sizes; their glob."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  os.makedirs(directory, exist_ok=True)
  for k, (height, width) in enumerate(sizes):
    Image.fromarray(synthetic_image(height, width)).save(
        os.path.join(directory, f"{k}.png"))
  return os.path.join(directory, "*.png")

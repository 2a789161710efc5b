"""MNIST digits from TFDS, or from the four standard IDX files offline."""

import gzip
import os

import numpy as np
import tensorflow as tf

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataError(ValueError):
  """MNIST is missing or malformed; the message says what to pass."""


def read_idx(path):
  """Reads an IDX file (optionally gzipped) into a numpy array.

  The IDX format is four header bytes (0, 0, dtype code, rank), rank
  big-endian uint32 sizes, then the data. TFDS reads these same files but
  only through its download manager, so the offline path parses them here.
  """
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    data = f.read()
  if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
    raise DataError(f"{path}: not an unsigned-byte IDX file.")
  rank = data[3]
  shape = tuple(np.frombuffer(data, ">u4", rank, 4).astype(int))
  start = 4 + 4 * rank
  if len(data) - start != int(np.prod(shape)):
    raise DataError(f"{path}: truncated IDX file (header says {shape}).")
  return np.frombuffer(data, np.uint8, offset=start).reshape(shape)


def _find(directory, name):
  for candidate in (name, name + ".gz"):
    path = os.path.join(directory, candidate)
    if os.path.exists(path):
      return path
  raise DataError(
      f"{directory} has no {name}[.gz]; --mnist_dir needs the four MNIST "
      f"IDX files ({', '.join(sum(IDX_FILES.values(), ()))}).")


def load_idx(directory, split):
  """(images [N, 28, 28, 1] uint8, labels [N]) of `split` from IDX files."""
  image_file, label_file = IDX_FILES[split]
  images = read_idx(_find(directory, image_file))
  labels = read_idx(_find(directory, label_file))
  if images.ndim != 3 or len(images) != len(labels):
    raise DataError(f"{directory}: images and labels of {split!r} disagree.")
  return images[..., None], labels


def dataset(split, mnist_dir=None):
  """tf.data.Dataset of uint8 digits [28, 28, 1] for "train" or "test".

  With `mnist_dir`, reads the IDX files there; otherwise `tfds.load`, which
  downloads MNIST the first time.
  """
  if mnist_dir:
    images, _ = load_idx(mnist_dir, split)
    return tf.data.Dataset.from_tensor_slices(images)
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  try:
    digits = tfds.load("mnist", split=split, as_supervised=True)
  except Exception as e:  # TFDS raises many types for "could not download".
    raise DataError(
        f"MNIST is not available from TFDS ({type(e).__name__}). Without "
        "network access, pass --mnist_dir=DIR, a directory holding the four "
        "MNIST IDX files (train-images-idx3-ubyte.gz, ...).") from e
  return digits.map(lambda image, label: image)

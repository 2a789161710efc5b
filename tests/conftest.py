"""Shared fixtures: tiny untrained models and deterministic test images."""

import os

import numpy as np
import pytest
import tensorflow as tf

from bls2017.core import model_file
from bls2017.paper.model import BLS2017Model
from synthetic import disc_digits, synthetic_image, write_idx

# The commands' SavedModel cache (`bls2017.core.saved_codec`) is off in
# tests (subprocesses inherit this), so that each test's model file is not
# exported first; test_saved_codec.py turns it on in a folder of its own.
os.environ.setdefault("BLS2017_CACHE", "off")


def make_model_file(path, channels, num_filters=8, seed=0):
  tf.keras.utils.set_random_seed(seed)
  model = BLS2017Model(lmbda=0.01, num_filters=num_filters, channels=channels)
  model_file.save(model, str(path))
  return str(path)


def save_with_fitted_tables(model, path, fitted_tables, seed=0):
  """Writes a related system's untrained model, model() built after seeding
  with `seed`, with its tables fitted_tables(model, batches) on two
  synthetic patches; returns the path."""
  tf.keras.utils.set_random_seed(seed)
  model = model()
  batches = [synthetic_image(32, 48)[None], synthetic_image(40, 32)[None]]
  model_file.save(model, str(path),
                  make_tables=lambda m: fitted_tables(m, batches))
  return str(path)


def load_and_round_trip(path, codec_class, height, width):
  """Opens `path` through the shared loader (which must pick codec_class
  from the file's system) and codes a synthetic image; returns (codec, x,
  bitstream, x_hat) after checking the bitstream's magic and that coding
  again gives the same bytes."""
  from bls2017.core import codec as shared_codec  # pylint: disable=import-outside-toplevel
  codec = shared_codec.load(path)
  assert isinstance(codec, codec_class)
  x = synthetic_image(height, width)
  data = codec.compress(x)
  assert data[:2] == codec.magic and codec.compress(x) == data
  x_hat = codec.decompress(data)
  assert x_hat.shape == x.shape and x_hat.dtype == np.uint8
  return codec, x, data, x_hat


@pytest.fixture(scope="session")
def rgb_model_path(tmp_path_factory):
  return make_model_file(tmp_path_factory.mktemp("m") / "rgb.npz", 3)


@pytest.fixture(scope="session")
def gray_model_path(tmp_path_factory):
  return make_model_file(tmp_path_factory.mktemp("m") / "gray.npz", 1)


@pytest.fixture(scope="session")
def other_rgb_model_path(tmp_path_factory):
  return make_model_file(tmp_path_factory.mktemp("m") / "other.npz", 3,
                         seed=1)


@pytest.fixture
def write_image(tmp_path):
  """Writes synthetic_image(h, w, c) as PNG; returns (path, array)."""
  from PIL import Image

  def write(height, width, channels=3, name="image.png"):
    array = synthetic_image(height, width, channels)
    path = tmp_path / name
    Image.fromarray(array[..., 0] if channels == 1 else array).save(path)
    return str(path), array
  return write


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
  """A tiny MNIST in IDX files: 384 training and 64 test disc digits."""
  from mnist_demo import data  # pylint: disable=import-outside-toplevel
  directory = tmp_path_factory.mktemp("mnist")
  for split, count, seed in (("train", 384, 0), ("test", 64, 1)):
    image_file, label_file = data.IDX_FILES[split]
    write_idx(directory / (image_file + ".gz"), disc_digits(count, seed))
    write_idx(directory / (label_file + ".gz"), np.zeros(count))
  return str(directory)

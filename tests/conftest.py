"""Shared fixtures: tiny untrained models and deterministic test images."""

import os

import numpy as np
import pytest

from helpers.models import make_model_file
from helpers.synthetic import disc_digits, synthetic_image, write_idx

# The commands' SavedModel cache (`bls2017.core.saved_codec`) is off in
# tests (subprocesses inherit this), so that each test's model file is not
# exported first; test_saved_codec.py turns it on in a folder of its own.
os.environ.setdefault("BLS2017_CACHE", "off")


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

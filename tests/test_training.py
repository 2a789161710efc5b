"""Training data and the train command: skipping, errors, resume."""

import os

import numpy as np
import pytest
from PIL import Image

from bls2017 import data, model_file
from synthetic import synthetic_image
from test_cli import run_cli


def _write_images(directory, sizes):
  os.makedirs(directory, exist_ok=True)
  for k, (height, width) in enumerate(sizes):
    Image.fromarray(synthetic_image(height, width)).save(
        os.path.join(directory, f"{k}.png"))
  return os.path.join(directory, "*.png")


def test_small_images_are_skipped(tmp_path):
  pattern = _write_images(tmp_path, [(40, 40), (20, 90), (64, 33)])
  arrays = data.load_images(pattern, 3, 32)
  assert sorted(a.shape for a in arrays) == [(40, 40, 3), (64, 33, 3)]
  batch = next(iter(data.patch_dataset(arrays, 32, 5, seed=0)))
  assert batch.shape == (5, 32, 32, 3) and batch.dtype == "uint8"


def test_no_usable_images(tmp_path):
  with pytest.raises(data.DataError, match="matches no files"):
    data.load_images(str(tmp_path / "*.png"), 3, 32)
  pattern = _write_images(tmp_path, [(10, 10)])
  with pytest.raises(data.DataError, match="lower --patchsize"):
    data.load_images(pattern, 3, 32)


def test_tfds_without_network_names_train_glob(monkeypatch):
  import tensorflow_datasets as tfds

  def offline(*args, **kwargs):
    raise ConnectionError("Failed to establish a new connection")
  monkeypatch.setattr(tfds, "load", offline)
  with pytest.raises(data.DataError, match="--train_glob"):
    data.tfds_dataset("clic", "train", 64, 2, 3)


def test_train_writes_model_and_resumes(tmp_path, capsys):
  pattern = _write_images(tmp_path / "train", [(48, 48), (40, 56)])
  model_path = tmp_path / "m.npz"
  flags = ["train", "--train_glob", pattern, "--model_path", model_path,
           "--num_filters", "8", "--patchsize", "32", "--batchsize", "2",
           "--steps_per_epoch", "3", "--checkpoint_every", "3", "--seed", "0",
           "--verbose", "0"]
  assert run_cli(*flags, "--epochs", "1") == 0
  first = model_file.load(str(model_path))
  assert first.metadata["steps"] == 3
  assert np.isfinite(first.metadata["final_train_bpp"])
  # Re-running with more epochs resumes from the checkpoint: 2 more epochs.
  assert run_cli(*flags, "--epochs", "3") == 0
  resumed = model_file.load(str(model_path))
  assert resumed.metadata["steps"] == 9
  assert resumed.fingerprint != first.fingerprint
  assert os.path.isdir(str(model_path) + ".train/logs")


def test_train_missing_data_is_a_one_line_error(tmp_path, capsys):
  assert run_cli("train", "--train_glob", tmp_path / "nothing/*.png",
                 "--model_path", tmp_path / "m.npz") == 1
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "matches no files" in err
  assert not os.path.exists(tmp_path / "m.npz")

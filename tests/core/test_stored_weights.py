"""Model files with int8 weights: error bounds, tables, every reader."""

import numpy as np
import pytest

from bls2017.core import model_file, stored_weights
from helpers.models import make_model_file


def test_int8_error_is_half_a_step_per_channel_pair():
  rng = np.random.default_rng(0)
  kernel = rng.normal(size=(16, 32, 5, 3)).astype(np.float32)
  kernel[0, 0] *= 100  # One loud pair must not coarsen the others.
  bias = rng.normal(size=(32,)).astype(np.float32)
  stored = stored_weights.encode([kernel, bias], "int8")
  assert stored["weight_0"].dtype == np.int8
  assert stored["scale_0"].shape == (16, 32, 1, 1)
  assert stored["weight_1"].dtype == np.float16 and "scale_1" not in stored
  decoded_kernel, decoded_bias = stored_weights.decode(stored, 2)
  step = stored["scale_0"].astype(np.float32)
  assert stored["scale_0"].dtype == np.float16
  np.testing.assert_allclose(
      step, np.abs(kernel).max(axis=(2, 3), keepdims=True) / 127, rtol=1e-3)
  assert np.all(np.abs(decoded_kernel - kernel) <= step / 2 * (1 + 1e-6))
  assert np.abs(decoded_kernel - kernel)[1:].max() < 0.02
  np.testing.assert_array_equal(decoded_bias, bias.astype(np.float16))


def test_float16_is_the_format_the_zoo_has():
  weights = [np.linspace(-1, 1, 5000, dtype=np.float32).reshape(50, 100)]
  stored = stored_weights.encode(weights, "float16")
  assert list(stored) == ["weight_0"]
  assert stored["weight_0"].dtype == np.float16
  with pytest.raises(ValueError, match="Unknown weight format"):
    stored_weights.encode(weights, "int4")


@pytest.mark.slow
def test_int8_model_file_builds_its_tables_from_what_it_stores(tmp_path):
  # 32 filters: the 5x5 kernels are large enough to be stored as int8.
  source = model_file.load(make_model_file(tmp_path / "m.npz", 3, 32))
  path = str(tmp_path / "int8.npz")
  model_file.save(source.model, path, dtype="int8")
  loaded = model_file.load(path)
  # The live model was set to the expanded int8 weights before the tables
  # were built: recomputing them from the loaded model gives the same.
  recomputed = loaded.model.coding_tables()
  for key, table in loaded.tables.items():
    np.testing.assert_array_equal(recomputed[key], table)
  assert loaded.fingerprint != source.fingerprint
  with np.load(path) as archive:
    assert any(archive[k].dtype == np.int8 for k in archive.files)
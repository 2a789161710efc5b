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


def test_int8_keeps_the_kernels_that_face_the_image_float16():
  rng = np.random.default_rng(2)
  for shape in ((3, 192, 9, 5), (192, 3, 9, 5), (1, 128, 9, 5)):
    kernel = rng.normal(size=shape).astype(np.float32)
    for dtype in ("int8", "int8_rdft"):
      stored = stored_weights.encode([kernel], dtype)
      assert stored["weight_0"].dtype == np.float16 and len(stored) == 1
  inner = rng.normal(size=(4, 192, 5, 3)).astype(np.float32)
  assert stored_weights.encode([inner], "int8")["weight_0"].dtype == np.int8


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

def _rdft_halves(taps):
  """tfc.RDFTParameter's (real, imag) for taps [in, out, kh, kw]."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import tensorflow_compression as tfc  # pylint: disable=import-outside-toplevel
  kernel = tf.constant(np.transpose(taps, (2, 3, 0, 1)))  # [kh, kw, in, out]
  parameter = tfc.RDFTParameter(kernel)
  return parameter.real.numpy(), parameter.imag.numpy(), parameter


@pytest.mark.parametrize("width", (5, 9, 4))
def test_taps_and_rdft_convert_as_tfc_parameterizes_kernels(width):
  rng = np.random.default_rng(width)
  taps = rng.normal(size=(3, 4, 5, width)).astype(np.float32)
  real, imag, parameter = _rdft_halves(taps)
  ours_real, ours_imag = stored_weights.taps_to_rdft(taps)
  np.testing.assert_allclose(ours_real, real, atol=1e-5)
  np.testing.assert_allclose(ours_imag, imag, atol=1e-5)
  np.testing.assert_allclose(stored_weights.rdft_to_taps(real, imag, width),
                             taps, atol=1e-5)
  # Training moves coefficients a real kernel's RDFT cannot have (the
  # imaginary part of the constant bin); the taps are what the layer makes.
  parameter.imag.assign_add(np.full(imag.shape, 0.5, np.float32))
  layer_kernel = np.transpose(parameter().numpy(), (2, 3, 0, 1))
  np.testing.assert_allclose(stored_weights.rdft_to_taps(
      parameter.real.numpy(), parameter.imag.numpy(), width), layer_kernel,
                             atol=1e-5)


def test_int8_kernels_are_stored_as_taps_half_a_step_from_the_kernel():
  rng = np.random.default_rng(1)
  taps = rng.normal(size=(16, 32, 5, 5)).astype(np.float32)
  taps[0, 0] *= 100  # One loud pair must not coarsen the others.
  real, imag, _ = _rdft_halves(taps)
  bias = rng.normal(size=(32,)).astype(np.float32)
  kernels = {2: (1, 5)}
  stored = stored_weights.encode([bias, imag, real], "int8", kernels)
  assert sorted(stored) == ["spatial_2_1", "spatial_scale_2_1", "weight_0"]
  q, scale = stored["spatial_2_1"], stored["spatial_scale_2_1"]
  assert q.dtype == np.int8 and q.shape == (16, 32, 5, 5)
  assert scale.dtype == np.float16 and scale.shape == (16, 32, 1, 1)
  step = scale.astype(np.float32)
  exact = stored_weights.exact(stored, 3)
  assert exact[2].shape == (16, 32, 5, 5) and exact[1].size == 0
  assert np.all(np.abs(exact[2] - taps) <= step / 2 * (1 + 1e-4))
  assert np.abs(exact[2] - taps)[1:].max() < 0.02
  # What the variables take: the RDFT of exactly those taps.
  decoded = stored_weights.decode(stored, 3)
  np.testing.assert_allclose(stored_weights.rdft_to_taps(
      decoded[2], decoded[1], 5), exact[2], atol=1e-5)
  np.testing.assert_array_equal(decoded[0], bias.astype(np.float16))
  # float16 files, and int8 ones written without `kernels` (as before
  # kernels were stored as taps), keep the coefficients.
  assert "weight_1" in stored_weights.encode([bias, imag, real], "int8")
  assert "weight_1" in stored_weights.encode([bias, imag, real], "float16",
                                             kernels)


@pytest.mark.slow
def test_an_int8_file_keeps_each_layers_kernel_and_a_machine_free_identity(
    tmp_path, monkeypatch):
  source = model_file.load(make_model_file(tmp_path / "m.npz", 3, 32))
  path = str(tmp_path / "int8.npz")
  model_file.save(source.model, path, dtype="int8")
  with np.load(path) as archive:
    spatial = [k for k in archive.files if k.startswith("spatial_scale_")]
    # Every kernel of g_a and g_s as taps, but for the two that face the
    # image (3 channels on one side), which stay float16 coefficients.
    assert len(spatial) == 4
    facing = [archive[k] for k in archive.files if k.startswith("weight_")
              and archive[k].ndim == 4]
    assert len(facing) == 4 and all(
        a.dtype == np.float16 and 3 in a.shape[:2] for a in facing)
  loaded = model_file.load(path)

  def kernels(model):
    return [np.asarray(m.kernel) for m in model.submodules
            if hasattr(m, "kernel_parameter")]
  for before, after in zip(kernels(source.model), kernels(loaded.model)):
    step = np.abs(before).max(axis=(0, 1), keepdims=True) / 127
    assert np.all(np.abs(after - before) <= step * 0.51)
  recorded = loaded.fingerprint
  assert model_file.identity(path)[2] == recorded
  # Another machine's FFT may differ in the last bits: the identity stands.
  rfft2 = np.fft.rfft2
  monkeypatch.setattr(np.fft, "rfft2",
                      lambda *a, **k: rfft2(*a, **k) * (1 + 1e-7))
  assert model_file.load(path).fingerprint == recorded
  assert model_file.identity(path)[2] == recorded

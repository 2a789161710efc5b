"""The JAX twin against the Keras model: the equivalence contract.

For random and shipped weights, 128 and 192 filters, RGB and gray, the two
forward passes agree on y, x_hat, the bits of every latent, bpp and MSE
(relative error <= 1e-4), and the gradients of R + lambda D agree on every
variable (<= 1e-3), given the same noise sample. Relative error: the
largest absolute difference over the largest magnitude, per tensor.
"""

import os

import numpy as np
import pytest

from bls2017.core import catalog, model_file
from bls2017.paper.model import BLS2017Model
from optional import import_or_skip
from synthetic import synthetic_image

jax = import_or_skip("jax", "accel")
from bls2017.jax_twin import equivalence  # pylint: disable=g-import-not-at-top
from bls2017.jax_twin import model as jax_model  # pylint: disable=g-import-not-at-top
from bls2017.jax_twin import params_io  # pylint: disable=g-import-not-at-top

relative_error = equivalence.relative_error
params_of = equivalence.params_of
shipped_model = equivalence.shipped_model
random_model = equivalence.random_model

FORWARD_TOLERANCE = 1e-4
GRADIENT_TOLERANCE = 1e-3
# The case the quick loop (-m "not slow") keeps: the shipped default model.
QUICK_CASE = "shipped bls2017-mse-4"


@pytest.mark.parametrize("case", [
    pytest.param(case, marks=() if case == QUICK_CASE else pytest.mark.slow)
    for case in sorted(equivalence.CASES)])
def test_forward_and_gradients_match_keras(case):
  errors = equivalence.compare(equivalence.CASES[case]())
  print(case, errors)
  assert max(errors["forward"].values()) <= FORWARD_TOLERANCE, errors
  assert errors["worst_gradient_error"] <= GRADIENT_TOLERANCE, errors


def test_transforms_match_on_odd_sizes():
  """g_a and g_s of images whose sides are not multiples of 16."""
  model = shipped_model("bls2017-mse-4")
  params = params_of(model)
  for height, width in [(37, 53), (16, 16), (81, 18)]:
    x = synthetic_image(height, width)[None].astype(np.float32)
    y = model.g_a(x).numpy()
    assert relative_error(y, jax_model.g_a(params, x)) <= FORWARD_TOLERANCE
    y_hat = np.round(y)
    assert relative_error(model.g_s(y_hat).numpy(),
                          jax_model.g_s(params, y_hat)) <= FORWARD_TOLERANCE


@pytest.mark.parametrize("num_filters,channels", [(128, 3), (192, 3),
                                                  (128, 1), (8, 1)])
def test_variable_layout_is_the_keras_models(num_filters, channels):
  keras = BLS2017Model(0.01, num_filters, channels)
  layout = jax_model.variables(jax_model.Architecture(num_filters, channels))
  assert [(jax_model.keras_name(n), s) for n, s in layout] == [
      (v.name, tuple(v.shape)) for v in keras.coding_variables]


def test_initial_values_are_drawn_like_keras():
  """Same constants exactly, same distributions for the random ones."""
  keras = params_of(random_model(64, 3, 0))
  fresh = jax_model.init(jax.random.key(0), jax_model.Architecture(64, 3))
  for name, value in keras.items():
    if "kernel" in name or name.startswith("prior/bias"):
      # Random: compare the spread (thousands of samples).
      assert np.std(fresh[name]) == pytest.approx(np.std(value), rel=.1)
    else:
      np.testing.assert_allclose(fresh[name], value, rtol=1e-6, err_msg=name)


@pytest.mark.slow
def test_model_file_round_trip_is_bit_exact(tmp_path):
  """zoo file -> JAX params -> weights file -> finalize -> the same file:
  identical weights, tables and fingerprint."""
  path = catalog.resolve("bls2017-mse-4")
  params, arch, lmbda, metadata = params_io.read(path)
  weights = tmp_path / "m.weights.npz"
  params_io.write_weights(str(weights), params, arch, lmbda, metadata,
                          "float16")
  again, _, _, _ = params_io.read(str(weights))
  for name, value in params.items():
    np.testing.assert_array_equal(again[name], value, err_msg=name)
  original = model_file.load(path)
  rebuilt = model_file.finalize(str(weights), str(tmp_path / "m.npz"))
  assert rebuilt.fingerprint == original.fingerprint
  for key, table in original.tables.items():
    np.testing.assert_array_equal(rebuilt.tables[key], table)
  assert rebuilt.metadata == original.metadata


def test_gdn_form_travels_through_weights_files(tmp_path):
  """A paper-GDN model file read by the twin, written as a weights file
  and finalized is a paper-GDN model file again; the twin computes that
  form (the equivalence case "random 192 filters RGB, paper GDN")."""
  path = str(tmp_path / "paper.npz")
  model_file.save(BLS2017Model(0.01, 16, 3, "paper"), path)
  params, arch, lmbda, metadata = params_io.read(path)
  assert arch.gdn == "paper"
  weights = str(tmp_path / "paper.weights.npz")
  params_io.write_weights(weights, params, arch, lmbda, metadata)
  assert model_file.finalize(weights, str(tmp_path / "again.npz")
                             ).model.gdn == "paper"
  x = np.ones((1, 4, 4, 16), np.float32)
  beta, gamma = params["g_a/layer_0/gdn_0/reparam_beta"], params[
      "g_a/layer_0/gdn_0/reparam_gamma"]
  paper = jax_model.layers.gdn(x, beta, gamma, form="paper")
  simplified = jax_model.layers.gdn(x, beta, gamma)
  assert not np.allclose(paper, simplified)


def test_int8_model_files_read_alike_on_both_sides(tmp_path):
  """The JAX side expands int8 weights to what the Keras side loads."""
  path = str(tmp_path / "int8.npz")
  model_file.save(random_model(32, 3, 4), path, dtype="int8")
  params, _, _, _ = params_io.read(path)
  expected = params_of(model_file.load(path).model)
  for name, value in expected.items():
    np.testing.assert_array_equal(params[name], value, err_msg=name)


@pytest.mark.slow
def test_finalize_stores_int8_when_asked(tmp_path):
  from bls2017 import cli  # pylint: disable=import-outside-toplevel
  from cli_helpers import run_main  # pylint: disable=import-outside-toplevel
  model = random_model(32, 3, 5)
  weights = str(tmp_path / "m.weights.npz")
  params_io.write_weights(weights, params_of(model), jax_model.Architecture(
      32, 3), 0.01, {"steps": 7}, "float32")
  for dtype in ("float16", "int8"):
    assert run_main(cli, "bls2017", "finalize", "--weights_dtype", dtype,
                    "--output_dir", tmp_path / dtype, weights) == 0
  half, compact = (str(tmp_path / d / "m.npz") for d in ("float16", "int8"))
  assert os.path.getsize(compact) < 0.7 * os.path.getsize(half)
  assert model_file.load(compact).metadata["steps"] == 7
  with np.load(compact) as archive:
    assert any(archive[k].dtype == np.int8 for k in archive.files)


def test_weights_file_needs_finalize(tmp_path, gray_model_path):
  params, arch, lmbda, _ = params_io.read(gray_model_path)
  weights = str(tmp_path / "g.weights.npz")
  params_io.write_weights(weights, params, arch, lmbda, {})
  with pytest.raises(model_file.ModelFileError, match="bls2017 finalize"):
    model_file.load(weights)


def test_read_refuses_other_files(tmp_path, rgb_model_path):
  with pytest.raises(params_io.ParamsError, match="no such model file"):
    params_io.read(str(tmp_path / "missing.npz"))
  (tmp_path / "junk.npz").write_bytes(b"not a zip")
  with pytest.raises(params_io.ParamsError, match="not a model file"):
    params_io.read(str(tmp_path / "junk.npz"))
  # A file whose names and shapes do not fit its own configuration.
  with np.load(rgb_model_path) as archive:
    arrays = dict(archive)
  arrays["weight_0"] = arrays["weight_0"][:-1]
  np.savez(tmp_path / "bad.npz", **arrays)
  with pytest.raises(params_io.ParamsError, match="do not match"):
    params_io.read(str(tmp_path / "bad.npz"))

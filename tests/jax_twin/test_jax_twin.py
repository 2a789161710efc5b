"""The JAX twin: the equivalence contract with the Keras model, model-file
conversion, and the ladder trainer (exact resume, NaN, sharding, warm
start, CLI).

For random and shipped weights, 128 and 192 filters, RGB and gray, the two
forward passes agree on y, x_hat, the bits of every latent, bpp and MSE
(relative error <= 1e-4), and the gradients of R + lambda D agree on every
variable (<= 1e-3), given the same noise sample. Relative error: the
largest absolute difference over the largest magnitude, per tensor.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bls2017.core import catalog, model_file
from bls2017.paper.model import BLS2017Model
from helpers.commands import run_cli
from helpers.optional import import_or_skip
from helpers.synthetic import synthetic_image

jax = import_or_skip("jax", "accel")
# pylint: disable=g-import-not-at-top
from bls2017.jax_twin import equivalence, params_io, train
from bls2017.jax_twin import model as jax_model
# pylint: enable=g-import-not-at-top

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
  model = equivalence.CASES[case]()
  x, noise, keras, twin = equivalence.run_both(model)
  forward, (worst, error) = equivalence.errors(
      *keras, *twin, equivalence.architecture(model))
  print(case, forward, worst, error)
  assert max(forward.values()) <= FORWARD_TOLERANCE, forward
  if error > GRADIENT_TOLERANCE:
    # Further apart than the tolerance: then the twin must be the side near
    # the exact (float64) gradients, the Keras side's float32 rounding the
    # larger (as with the shipped bls2017-gray-1's IGDN beta).
    with jax.experimental.enable_x64():
      exact = equivalence.float64_reference(model, x, noise, keras, twin)
    assert (exact["jax_float32_gradient"] <= GRADIENT_TOLERANCE <
            exact["keras_float32_gradient"]), (worst, error, exact)


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


def test_int8_weights_files_of_both_sides_store_the_same_arrays(tmp_path):
  """An int8 weights file the JAX side writes holds what the Keras side's
  int8 model file holds: the same kernel taps and scales."""
  keras_path = str(tmp_path / "keras.npz")
  model_file.save(random_model(32, 3, 4), keras_path, dtype="int8")
  params, arch, lmbda, _ = params_io.read(keras_path)
  jax_path = str(tmp_path / "jax.weights.npz")
  params_io.write_weights(jax_path, params, arch, lmbda, {}, "int8")
  with np.load(keras_path) as keras, np.load(jax_path) as jax_side:
    stored = [k for k in keras.files if k.startswith((
        "weight_", "scale_", "spatial_")) and k != "weight_names"]
    assert any(k.startswith("spatial_") for k in stored)
    assert sorted(stored) == sorted(
        k for k in jax_side.files if k != "weight_names" and k != "config")
    for name in stored:
      np.testing.assert_array_equal(keras[name], jax_side[name],
                                    err_msg=name)


@pytest.mark.slow
def test_finalize_stores_int8_when_asked(tmp_path):
  from bls2017 import cli  # pylint: disable=import-outside-toplevel
  from helpers.commands import run_main  # pylint: disable=import-outside-toplevel
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


# The ladder trainer.

@pytest.fixture
def pattern(tmp_path):
  directory = tmp_path / "train"
  directory.mkdir()
  for k, (height, width) in enumerate([(48, 64), (80, 40)]):
    Image.fromarray(synthetic_image(height, width)).save(directory /
                                                         f"{k}.png")
  return str(directory / "*.png")


def ladder(directory, pattern, **overrides):
  settings = dict(train_glob=pattern, lambdas=(0.001, 0.01),
                  model_dir=str(directory), num_filters=8, patchsize=32,
                  batchsize=2, epochs=1, steps_per_epoch=6, log_every=1,
                  seed=0, verbose=False)
  settings.update(overrides)
  return train.LadderConfig(**settings)


def checkpoint_arrays(config):
  with np.load(os.path.join(config.train_dir, train.CHECKPOINT)) as archive:
    return {k: archive[k] for k in archive.files if k != "wall_seconds"}


def log_lines(config):
  with open(os.path.join(config.train_dir, "log.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.mark.slow
def test_stopping_and_resuming_takes_the_same_steps(tmp_path, pattern):
  straight = ladder(tmp_path / "straight", pattern)
  train.train(straight)
  split = ladder(tmp_path / "split", pattern, max_steps=4)
  paths = train.train(split)
  stopped = params_io.read(paths[0])[3]
  assert (stopped["steps"], stopped["finished"]) == (4, False)
  paths = train.train(dataclasses.replace(split, max_steps=0))
  finished = params_io.read(paths[0])[3]
  assert (finished["steps"], finished["finished"]) == (6, True)
  expected, actual = checkpoint_arrays(straight), checkpoint_arrays(split)
  assert sorted(expected) == sorted(actual)
  for key, value in expected.items():
    np.testing.assert_array_equal(actual[key], value, err_msg=key)
  strip = lambda lines: [{k: v for k, v in line.items()
                          if k != "wall_seconds"} for line in lines]
  assert strip(log_lines(split)) == strip(log_lines(straight))


@pytest.mark.slow
def test_rate_rises_with_lambda(tmp_path, pattern):
  """Both models start from the same weights on the same patches; only
  lambda differs, and the rate moves the way lambda says."""
  config = ladder(tmp_path, pattern, lambdas=(1e-4, 1.), steps_per_epoch=30,
                  learning_rate=1e-2)
  fresh = train.initial_params(config)
  for name, value in fresh.items():
    np.testing.assert_array_equal(value[0], value[1], err_msg=name)
  low, high = (params_io.read(p)[3] for p in train.train(config))
  assert low["final_train_bpp"] < high["final_train_bpp"]
  assert low["final_train_mse"] > high["final_train_mse"]


@pytest.mark.slow
def test_ladder_forms_take_the_same_step(pattern):
  """Unrolled and vmapped ladders: the same noise, the same numbers."""
  config = ladder("unused", pattern)
  x = np.asarray(synthetic_image(32, 64).reshape(2, 32, 32, 3))
  optimizer = train.make_optimizer(config)
  params = train.initial_params(config)
  results = []
  for form in train.LADDER_FORMS:
    step = train.make_step(config.architecture, config.lambdas, optimizer,
                           config.seed, form)
    start = jax.tree_util.tree_map(np.array, params)  # The step donates it.
    state = train.TrainState(np.zeros((), np.int32), start,
                             optimizer.init(start))
    for _ in range(2):
      state, figures = step(state, x)
    results.append((state.params, figures))
  (unrolled, figures), (vmapped, vmap_figures) = results
  np.testing.assert_allclose(figures, vmap_figures, rtol=1e-5)
  for name, value in unrolled.items():
    np.testing.assert_allclose(vmapped[name], value, rtol=1e-4, atol=1e-6,
                               err_msg=name)


@pytest.mark.slow
def test_nan_stops_before_saving(tmp_path, pattern):
  config = ladder(tmp_path, pattern, max_steps=2)
  paths = train.train(config)
  checkpoint = os.path.join(config.train_dir, train.CHECKPOINT)
  before = [open(p, "rb").read() for p in [checkpoint] + paths]
  exploding = dataclasses.replace(config, max_steps=0, learning_rate=1e30)
  with pytest.raises(FloatingPointError, match="lower --learning_rate"):
    train.train(exploding)
  assert [open(p, "rb").read() for p in [checkpoint] + paths] == before


@pytest.mark.slow
def test_warm_start_from_a_model_file(tmp_path, pattern, rgb_model_path):
  config = ladder(tmp_path, pattern, lambdas=(0.003,), learning_rate=0.,
                  steps_per_epoch=1, warm_start=(rgb_model_path,))
  (path,) = train.train(config)
  source, _, _, _ = params_io.read(rgb_model_path)
  trained, _, lmbda, metadata = params_io.read(path)
  assert lmbda == .003 and metadata["warm_start"] == ["rgb.npz"]
  for name, value in source.items():
    np.testing.assert_array_equal(trained[name], value, err_msg=name)
  wider = dataclasses.replace(config, num_filters=16)
  with pytest.raises(train.ConfigError, match="has 8 filters"):
    train.train(wider)


@pytest.mark.slow
def test_resuming_another_run_is_refused(tmp_path, pattern):
  config = ladder(tmp_path, pattern, max_steps=1)
  train.train(config)
  with pytest.raises(train.ConfigError, match="checkpoint of another run"):
    train.train(dataclasses.replace(config, lambdas=(0.002, 0.01)))


@pytest.mark.parametrize("overrides,message", [
    ({"patchsize": 40}, "multiple of 16"),
    ({"lambdas": ()}, "positive"),
    ({"lambdas": (0.01, 0.01)}, "must differ"),
    ({"lr_schedule": "step"}, "lr_schedule"),
    ({"warm_start": ("a", "b", "c")}, "one per lambda"),
])
def test_bad_configurations(tmp_path, pattern, overrides, message):
  with pytest.raises(train.ConfigError, match=message):
    train.train(ladder(tmp_path, pattern, **overrides))


def test_default_filters_follow_the_paper(tmp_path, pattern):
  assert ladder(tmp_path, pattern, num_filters=None).num_filters == 192
  assert ladder(tmp_path, pattern, num_filters=None,
                channels=1).num_filters == 128


def jax_command(*argv, devices=1):
  env = dict(os.environ, XLA_FLAGS=(
      f"--xla_force_host_platform_device_count={devices}"),
             JAX_PLATFORMS="cpu")
  return subprocess.run(
      [sys.executable, "-m", "bls2017.jax_twin", "--noverbose", *argv],
      capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_data_parallel_over_two_devices_matches_one(tmp_path, pattern):
  flags = ["--train_glob", pattern, "--lambda", "0.001,0.01",
           "--num_filters", "8", "--patchsize", "32", "--batchsize", "2",
           "--epochs", "1", "--steps_per_epoch", "3"]
  one = jax_command(*flags, "--model_dir", tmp_path / "one")
  two = jax_command(*flags, "--model_dir", tmp_path / "two", devices=2)
  assert one.returncode == two.returncode == 0, one.stderr + two.stderr
  _, _, _, metadata = params_io.read(
      str(tmp_path / "two" / "lambda-0.01.weights.npz"))
  assert metadata["hardware"].startswith("2 x ")
  from bls2017.core import timing  # pylint: disable=import-outside-toplevel
  assert metadata["commit"] == timing.commit()  # The checkout's, if any.
  # The float32 checkpoints (the weights files are float16): the sharded
  # run took the same steps, and both moved away from the initial weights
  # by far more than they differ.
  single = checkpoint_arrays(ladder(tmp_path / "one", pattern))
  sharded = checkpoint_arrays(ladder(tmp_path / "two", pattern))
  initial = train.initial_params(ladder(tmp_path, pattern))
  assert int(single["step"]) == int(sharded["step"]) == 3
  for key, value in initial.items():
    moved = np.max(np.abs(single[f"params/{key}"] - value))
    apart = np.max(np.abs(sharded[f"params/{key}"] -
                          single[f"params/{key}"]))
    assert moved > 0 and apart <= 1e-3 * moved + 1e-6, (key, moved, apart)
  odd = jax_command(*flags[:-6], "--batchsize", "3", "--model_dir",
                    tmp_path / "odd", devices=2)
  assert odd.returncode == 1
  assert odd.stderr.strip().splitlines()[-1] == (
      "bls2017.jax_twin: error: --batchsize 3 must be a multiple of the 2 "
      "local devices.")


@pytest.mark.slow
def test_fifty_steps_to_a_model_file_that_compresses(tmp_path, pattern,
                                                     capsys):
  result = jax_command("--train_glob", pattern, "--lambda", "0.01",
                       "--num_filters", "16", "--patchsize", "32",
                       "--batchsize", "4", "--epochs", "1",
                       "--steps_per_epoch", "50", "--model_dir", tmp_path)
  assert result.returncode == 0, result.stderr
  weights = str(tmp_path / "lambda-0.01.weights.npz")
  metadata = params_io.read(weights)[3]
  assert metadata["steps"] == 50 and "--steps_per_epoch 50" in (
      metadata["command"])
  assert run_cli("finalize", weights) == 0
  model = str(tmp_path / "lambda-0.01.npz")
  assert model_file.load(model).metadata["steps"] == 50
  photo = tmp_path / "photo.png"
  Image.fromarray(synthetic_image(72, 88)).save(photo)
  capsys.readouterr()
  assert run_cli("compress", "-V", "--model", model, photo,
                 tmp_path / "photo.tfci") == 0
  assert "PSNR" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path):
  missing = jax_command("--train_glob", tmp_path / "none*.png")
  assert missing.returncode == 1
  assert missing.stderr.strip().splitlines()[-1].endswith(
      "matches no files.")
  bad = jax_command("--train_glob", "x", "--lambda", "0.01,big")
  assert bad.returncode == 1 and "--lambda" in bad.stderr

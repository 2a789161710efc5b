"""Training data and the train command: skipping, errors, resume."""

import os

import numpy as np
import pytest
import tensorflow as tf

from bls2017.core import data, model_file, train_config, training
from helpers.synthetic import synthetic_image, write_training_images
from helpers.commands import run_cli


def test_small_images_are_skipped(tmp_path):
  pattern = write_training_images(tmp_path, [(40, 40), (20, 90), (64, 33)])
  arrays = data.load_images(pattern, 3, 32)
  assert sorted(a.shape for a in arrays) == [(40, 40, 3), (64, 33, 3)]
  batch = next(iter(data.patch_dataset(arrays, 32, 5, seed=0)))
  assert batch.shape == (5, 32, 32, 3) and batch.dtype == "uint8"


def test_no_usable_images(tmp_path):
  with pytest.raises(data.DataError, match="matches no files"):
    data.load_images(str(tmp_path / "*.png"), 3, 32)
  pattern = write_training_images(tmp_path, [(10, 10)])
  with pytest.raises(data.DataError, match="lower --patchsize"):
    data.load_images(pattern, 3, 32)


def test_tfds_without_network_names_train_glob(monkeypatch):
  import tensorflow_datasets as tfds

  def offline(*args, **kwargs):
    raise ConnectionError("Failed to establish a new connection")
  monkeypatch.setattr(tfds, "load", offline)
  with pytest.raises(data.DataError, match="--train_glob"):
    data.tfds_dataset("clic", "train", 64, 2, 3)


@pytest.mark.slow
def test_train_writes_model_and_resumes(tmp_path, capsys):
  pattern = write_training_images(tmp_path / "train", [(48, 48), (40, 56)])
  model_path = tmp_path / "m.npz"
  flags = ["train", "--train_glob", pattern, "--model_path", model_path,
           "--num_filters", "8", "--patchsize", "32", "--batchsize", "2",
           "--steps_per_epoch", "3", "--checkpoint_every", "3", "--seed", "0",
           "--verbose", "0", "--gdn", "paper"]
  assert run_cli(*flags, "--epochs", "1") == 0
  first = model_file.load(str(model_path))
  assert first.metadata["steps"] == 3
  assert first.model.gdn == "paper"
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


@pytest.mark.parametrize("source_channels,channels", [(3, 1), (1, 3), (3, 3)])
def test_warm_start_across_channels(source_channels, channels):
  """A gray image gets the same latents and (channel-averaged) output."""
  import tensorflow as tf
  from bls2017.paper.model import BLS2017Model  # pylint: disable=import-outside-toplevel
  from bls2017.paper.train import warm_start  # pylint: disable=import-outside-toplevel
  tf.keras.utils.set_random_seed(0)
  source = BLS2017Model(0.01, 8, source_channels)
  model = BLS2017Model(0.02, 8, channels)
  warm_start(model, source)
  gray = synthetic_image(32, 48, 1).astype(np.float32)[None]
  y_source = source.g_a(np.repeat(gray, source_channels, -1))
  y = model.g_a(np.repeat(gray, channels, -1))
  np.testing.assert_allclose(y, y_source, rtol=1e-4, atol=1e-3)
  x_hat_source = np.mean(source.g_s(y), -1)
  np.testing.assert_allclose(np.mean(model.g_s(y), -1), x_hat_source,
                             rtol=1e-4, atol=1e-2)
  for v, w in zip(model.prior.trainable_variables,
                  source.prior.trainable_variables):
    np.testing.assert_array_equal(v, w)


def test_warm_start_needs_same_filters():
  from bls2017.paper.model import BLS2017Model  # pylint: disable=import-outside-toplevel
  from bls2017.paper.train import warm_start  # pylint: disable=import-outside-toplevel
  with pytest.raises(ValueError, match="filters"):
    warm_start(BLS2017Model(0.01, 8, 3), BLS2017Model(0.01, 16, 3))


# Each system's tiny architecture, and what its trainer says when the
# warm start's filters (8) are not the model's (4).
TINY = {
    "bls2017": ([], "has 8 filters, this one 4"),
    "cae_admm": (["--latent_channels", "4"], "num_filters=8 (here 4)"),
    "content_weighted": (["--code_channels", "4", "--groups", "2",
                          "--num_levels", "4"], "num_filters=8 (here 4)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("system", sorted(TINY))
def test_train_warm_starts_from_a_model_file(system, tmp_path, capsys,
                                             rgb_model_path):
  import importlib  # pylint: disable=import-outside-toplevel
  from helpers.commands import run_main  # pylint: disable=import-outside-toplevel
  cli = importlib.import_module(f"{system}.cli")
  pattern = write_training_images(tmp_path / "train", [(48, 48), (40, 56)])
  architecture, filters_error = TINY[system]

  def train(name, *flags):
    return run_main(
        cli, system, "train", "--train_glob", pattern,
        "--model_path", tmp_path / name, "--patchsize", "32",
        "--batchsize", "2", "--epochs", "1", "--steps_per_epoch", "2",
        "--seed", "0", "--verbose", "0", "--num_filters", "8",
        *architecture, *flags)

  assert train("a.npz") == 0
  # At a zero learning rate the weights stay those the warm start gave.
  assert train("b.npz", "--warm_start", tmp_path / "a.npz",
               "--learning_rate", "0", "--seed", "1") == 0
  a, b = (model_file.load(str(tmp_path / n)) for n in ("a.npz", "b.npz"))
  for u, v in zip(a.model.coding_variables, b.model.coding_variables):
    np.testing.assert_array_equal(u.numpy(), v.numpy())
  assert b.metadata["warm_start"] == {
      "model": "a.npz", "fingerprint": a.fingerprint.hex(), "steps": 2}
  assert b.metadata["total_steps"] == 4
  capsys.readouterr()
  refusals = [("--num_filters", "4", filters_error)]
  if system != "bls2017":
    refusals.append(("--warm_start", rgb_model_path,
                     "a bls2017 model file, not a"))
  for flag, value, message in refusals:
    assert train("c.npz", "--warm_start", tmp_path / "a.npz", flag,
                 value) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
  """--strategy mirrored splits each batch over 2 logical CPU devices."""
  import subprocess
  import sys
  from helpers.commands import ROOT  # pylint: disable=import-outside-toplevel
  pattern = write_training_images(tmp_path / "train", [(48, 48), (40, 56)])
  model_path = tmp_path / "m.npz"
  script = f"""
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from bls2017 import cli
sys.argv = ["bls2017", "train", "--train_glob", {pattern!r}, "--model_path",
            {str(model_path)!r}, "--num_filters", "8", "--patchsize", "32",
            "--batchsize", "4", "--epochs", "1", "--steps_per_epoch", "3",
            "--seed", "0", "--verbose", "0", "--strategy", "mirrored"]
cli.run()
"""
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  trained = model_file.load(str(model_path))
  assert trained.metadata["replicas"] == 2
  assert trained.metadata["steps"] == 3
  assert np.isfinite(trained.metadata["final_train_bpp"])


# One SGD step of a deterministic LagrangianModel on one batch, on one
# device and mirrored over two: equal only if train_step averages the
# replicas' gradients (Adam would hide a factor of 2; SGD does not).
_MIRRORED_STEP_SCRIPT = """
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from bls2017.core import lagrangian, training

class Toy(lagrangian.LagrangianModel):
  def __init__(self):
    super().__init__(lmbda=0.5)
    self.dense = tf.keras.layers.Dense(
        1, kernel_initializer=tf.keras.initializers.Constant(0.1))

  def call(self, x, training=False):
    y = self.dense(tf.reshape(x, (tf.shape(x)[0], -1)))
    return tf.reduce_mean(tf.square(y)), tf.reduce_mean(tf.abs(y - 1.0))

x = np.arange(4 * 6, dtype=np.float32).reshape(4, 6) / 10
kernels = []
for name in ("one_device", "mirrored"):
  strategy = training.distribution_strategy(name)
  with strategy.scope():
    model = Toy()
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1))
  model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0)
  kernels.append(model.dense.kernel.numpy())
  print(name, strategy.num_replicas_in_sync)
moved = np.max(np.abs(kernels[0] - 0.1))
apart = np.max(np.abs(kernels[1] - kernels[0]))
print("moved", moved, "apart", apart)
assert moved > 1e-2 and apart < 1e-6 * moved + 1e-7, (moved, apart)
"""


@pytest.mark.slow
def test_mirrored_step_averages_the_replicas_gradients():
  import subprocess
  import sys
  from helpers.commands import ROOT  # pylint: disable=import-outside-toplevel
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-c", _MIRRORED_STEP_SCRIPT],
                          env=env, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr
  assert "mirrored 2" in result.stdout


def _train_flags(tmp_path, **overrides):
  pattern = write_training_images(tmp_path / "train", [(48, 48), (40, 56)])
  flags = {"--train_glob": pattern, "--model_path": tmp_path / "m.npz",
           "--num_filters": 8, "--patchsize": 32, "--batchsize": 2,
           "--steps_per_epoch": 3, "--checkpoint_every": 1, "--seed": 0,
           "--verbose": 0, "--epochs": 1}
  flags.update(overrides)
  return ["train"] + [str(v) for kv in flags.items() for v in kv]


ITERATIONS = "model/optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"


def _checkpoint(tmp_path):
  import tensorflow as tf
  reader = tf.train.load_checkpoint(
      str(tmp_path / "m.npz.train" / "backup" / "chief"))
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
  assert run_cli(*_train_flags(tmp_path)) == 0
  good_model = (tmp_path / "m.npz").read_bytes()
  good = _checkpoint(tmp_path)
  # Resuming with lambda = NaN makes the very next loss NaN.
  assert run_cli(*_train_flags(tmp_path, **{"--lambda": "nan",
                                            "--epochs": 2})) == 1
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "NaN or Inf" in err
  after = _checkpoint(tmp_path)
  assert after.keys() == good.keys()
  for name, value in good.items():
    np.testing.assert_array_equal(after[name], value, err_msg=name)
  assert (tmp_path / "m.npz").read_bytes() == good_model


@pytest.mark.slow
def test_sigkill_at_arbitrary_points_then_resume(tmp_path):
  """Kill -9 a run several times; the same command finishes the schedule."""
  import signal
  import subprocess
  import sys
  import time
  from helpers.commands import ROOT  # pylint: disable=import-outside-toplevel
  # A schedule long enough that no kill can land after its last step, on a
  # fast machine too (a checkpoint every step, kills < 2 s after one).
  steps = 100
  argv = [sys.executable, "-m", "bls2017"] + _train_flags(
      tmp_path, **{"--epochs": steps // 5, "--steps_per_epoch": 5})
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  index = tmp_path / "m.npz.train" / "backup" / "chief" / "checkpoint"
  steps_seen = []
  for delay in (0.0, 0.7, 1.9):
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    previous = index.stat().st_mtime if index.exists() else 0
    deadline = time.time() + 240
    # Kill some time after the run has written a new checkpoint.
    while (not index.exists() or index.stat().st_mtime == previous):
      assert process.poll() is None and time.time() < deadline
      time.sleep(0.05)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    state = _checkpoint(tmp_path)  # Never left unreadable.
    steps_seen.append(int(state[ITERATIONS]))
  assert not (tmp_path / "m.npz").exists()
  # Each run resumed where the last checkpoint left off (a fresh start would
  # checkpoint step 1 again), and none finished the schedule.
  assert all(a < b for a, b in zip(steps_seen, steps_seen[1:])), steps_seen
  assert steps_seen[-1] < steps
  print("iterations at each kill:", steps_seen)
  result = subprocess.run(argv, env=env, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr
  finished = model_file.load(str(tmp_path / "m.npz"))
  assert finished.metadata["steps"] == steps


def test_random_flips_give_each_patch_one_of_its_four_flips():
  tf.keras.utils.set_random_seed(0)
  batch = tf.constant(np.stack([synthetic_image(8, 8)] * 64))
  flipped = training.random_flips(batch).numpy()
  x = batch[0].numpy()
  variants = [x, x[::-1], x[:, ::-1], x[::-1, ::-1]]
  seen = set()
  for patch in flipped:
    matches = [k for k, v in enumerate(variants) if np.array_equal(patch, v)]
    assert matches, "not a flip of the patch"
    seen.add(matches[0])
  assert seen == {0, 1, 2, 3}


def test_plateau_schedule_halves_the_rate_when_the_loss_stalls():
  """A model whose loss cannot fall: after the first epoch, each epoch
  past the patience halves the rate, down to 1 % of the peak."""
  config = train_config.TrainConfig(learning_rate=0.1, lr_schedule="plateau",
                                    plateau_patience=1)
  inputs = tf.keras.Input((1,))
  model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, use_bias=False)(
      inputs * 0))
  model.compile(optimizer=tf.keras.optimizers.SGD(training.learning_rate(
      config.learning_rate, config.lr_schedule, 0)), loss="mse")
  rates = []
  record = tf.keras.callbacks.LambdaCallback(
      on_epoch_end=lambda *_: rates.append(
          float(model.optimizer.learning_rate)))
  model.fit(np.zeros((4, 1)), np.ones((4, 1)), epochs=9, verbose=0,
            callbacks=[training.plateau_halving(config), record])
  assert rates == pytest.approx([0.1 / 2 ** k for k in range(7)] +
                                [0.001, 0.001])

"""CAE-ADMM: the ADMM pieces, stochastic rounding, training and the codec."""

import json
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from bls2017.core import bitstream, codec as shared_codec, model_file
from cae_admm import admm, cli
from cae_admm import codec as cae_codec
from cae_admm import model as model_lib
from cae_admm.model import CAEADMMModel
from helpers.commands import (assert_cli_refuses_bad_bitstreams,
                         assert_exported_codec_round_trips,
                         run_main)
from helpers.models import load_and_round_trip, save_with_fitted_tables
from helpers.synthetic import synthetic_image, write_training_images

def test_projection_keeps_exactly_the_largest_magnitudes():
  rng = np.random.default_rng(0)
  v = rng.normal(size=(3, 4, 5, 6)).astype(np.float32)
  keep = 13
  projected = admm.project_cardinality(tf.constant(v), keep).numpy()
  for example, result in zip(v, projected):
    largest = np.argsort(-np.abs(example).ravel())[:keep]
    assert np.count_nonzero(result) == keep
    assert set(np.flatnonzero(result.ravel())) == set(largest)
    # The kept entries are unchanged (Euclidean projection).
    np.testing.assert_array_equal(result.ravel()[largest],
                                  example.ravel()[largest])

def test_keep_count():
  assert int(admm.keep_count([4, 5, 6], 0.1)) == 12
  assert int(admm.keep_count([2, 2, 2], 0.01)) == 1

def test_dual_update_is_u_plus_z_minus_projection():
  rng = np.random.default_rng(1)
  u, z = (rng.normal(size=(2, 3, 3, 4)).astype(np.float32) for _ in range(2))
  projected = admm.project_cardinality(tf.constant(z + u), 7)
  updated = admm.dual_update(u, z, projected).numpy()
  np.testing.assert_allclose(updated, u + z - projected.numpy(), atol=1e-6)
  # After the update, U is exactly the part of z + U that was pruned.
  kept = projected.numpy() != 0
  np.testing.assert_allclose(updated[kept], 0, atol=1e-6)
  np.testing.assert_allclose(updated[~kept], (z + u)[~kept], atol=1e-6)

def test_stochastic_rounding_is_unbiased_with_identity_gradient():
  tf.keras.utils.set_random_seed(0)
  z = tf.constant(np.linspace(-2.7, 3.3, 13, dtype=np.float32))
  samples = admm.stochastic_round(tf.tile(z[None], [20000, 1]))
  assert np.all(samples.numpy() == np.round(samples.numpy()))
  assert np.all(np.abs(samples.numpy() - z.numpy()) < 1)
  np.testing.assert_allclose(tf.reduce_mean(samples, 0), z, atol=0.03)
  with tf.GradientTape() as tape:
    tape.watch(z)
    rounded = admm.stochastic_round(z)
  np.testing.assert_array_equal(tape.gradient(rounded, z), np.ones(13))

def _model_file(path, pruning=True, seed=0):
  return save_with_fitted_tables(
      lambda: CAEADMMModel(num_filters=8, latent_channels=4, pruning=pruning,
                           keep_fraction=0.25),
      path, cae_codec.fitted_tables, seed)

@pytest.fixture(scope="module")
def cae_path(tmp_path_factory):
  return _model_file(tmp_path_factory.mktemp("cae") / "cae.npz")

def test_round_trip_is_bit_exact_and_pruned(cae_path):
  codec, x, data, x_hat = load_and_round_trip(cae_path, cae_codec.Codec,
                                              37, 53)
  assert data[:2] == b"CA"
  # The decoder's output is that of g_s on the pruned integer latents.
  z_hat = codec.latents(x)
  assert np.count_nonzero(z_hat) <= np.ceil(0.25 * z_hat.size)
  expected = codec.model.g_s(z_hat)[0, :37, :53]
  np.testing.assert_array_equal(
      x_hat, tf.saturate_cast(tf.round(expected), tf.uint8))
  assert codec.information_content(x) > 0

def test_bitstreams_name_their_system_and_model(cae_path, rgb_model_path,
                                                tmp_path):
  codec = cae_codec.load(cae_path)
  data = codec.compress(synthetic_image(16, 16))
  with pytest.raises(bitstream.NotABitstreamError, match="cae_admm"):
    shared_codec.load(rgb_model_path).decompress(data)
  other = cae_codec.load(_model_file(tmp_path / "other.npz", seed=1))
  with pytest.raises(bitstream.WrongModelError):
    other.decompress(data)
  with pytest.raises(model_file.ModelFileError, match="not a cae_admm"):
    cae_codec.load(rgb_model_path)

@pytest.mark.slow
def test_export_savedmodels(cae_path, tmp_path):
  codec = cae_codec.load(cae_path)
  assert_exported_codec_round_trips(codec, tmp_path / "out",
                                    synthetic_image(24, 40))

def test_pruning_ablation_codes_every_latent(tmp_path):
  codec = cae_codec.load(_model_file(tmp_path / "np.npz", pruning=False))
  x = synthetic_image(32, 32)
  z_hat = codec.latents(x)
  np.testing.assert_array_equal(
      z_hat, np.round(codec.model.g_a(x[None].astype(np.float32))))
  np.testing.assert_array_equal(codec.decompress(codec.compress(x)).shape,
                                x.shape)

@pytest.mark.slow
def test_train_command_and_cli_round_trip(tmp_path, capsys):
  pattern = write_training_images(tmp_path / "train", [(48, 48), (48, 56)])
  model_path = tmp_path / "cae.npz"
  assert run_main(
      cli, "cae_admm", "train", "--train_glob", pattern,
      "--model_path", model_path, "--num_filters", "8",
      "--latent_channels", "4", "--patchsize", "32", "--batchsize", "2",
      "--epochs", "2", "--steps_per_epoch", "3", "--seed", "0",
      "--verbose", "0") == 0
  loaded = model_file.load(str(model_path), CAEADMMModel)
  assert loaded.metadata["steps"] == 6
  assert np.isfinite(loaded.metadata["final_train_mse"])
  assert loaded.model.retrain_from == 4  # The last 30 % of 6 steps.
  image = tmp_path / "train" / "0.png"
  assert run_main(cli, "cae_admm", "compress", "--model", model_path, image,
                  tmp_path / "x.tfci") == 0
  assert run_main(cli, "cae_admm", "decompress", "--model", model_path,
                  tmp_path / "x.tfci", tmp_path / "x.png") == 0
  assert np.asarray(Image.open(tmp_path / "x.png")).shape == (48, 48, 3)
  capsys.readouterr()
  # No shipped CAE-ADMM model: --model_path is required.
  assert run_main(cli, "cae_admm", "compress", image) == 2
  assert "--model_path" in capsys.readouterr().err


def test_ablation_reports_zero_fraction(cae_path, tmp_path):
  from cae_admm import ablation
  from PIL import Image
  paths = []
  # MS-SSIM needs 161 px a side.
  for k, (h, w) in enumerate([(168, 176), (176, 168), (168, 168)]):
    Image.fromarray(synthetic_image(h, w)).save(tmp_path / f"{k}.png")
    paths.append(str(tmp_path / f"{k}.png"))
  codecs = [cae_codec.load(cae_path),
            cae_codec.load(_model_file(tmp_path / "np.npz", pruning=False))]
  results = ablation.run(codecs, ["pruned", "unpruned"], paths,
                         str(tmp_path / "a.json"))
  # Pruned to 25 % of the latents: at least 75 % zeros.
  assert results["pruned"]["zero_fraction"] >= 0.75
  assert 0 < results["pruned"]["ssim"] <= 1
  assert 0 < results["pruned"]["ms_ssim"] <= 1
  assert results["unpruned"]["pruning"] is False
  assert results["pruned"]["admm_mode"] == "full"
  assert results["pruned"]["steps"] == (
      cae_codec.load(cae_path).loaded.metadata.get("steps"))
  # The second model against the first, per image, with an interval.
  psnr = results["unpruned"]["vs_first"]["psnr"]
  assert psnr["mean"] == pytest.approx(
      results["unpruned"]["psnr"] - results["pruned"]["psnr"])
  assert psnr["ci95"][0] <= psnr["mean"] <= psnr["ci95"][1]
  assert "vs_first" not in results["pruned"]
  assert json.loads((tmp_path / "a.json").read_text()) == results
  # Where it was measured, beside each model's figures.
  assert results["pruned"]["machine"] == results["unpruned"]["machine"]
  assert results["pruned"]["machine"]["cpu"]


def test_evaluation_logs_each_term_by_its_name():
  model = CAEADMMModel(num_filters=8, latent_channels=4, keep_fraction=0.25)
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-4))
  logs = model.test_step(tf.constant(synthetic_image(32, 32)[None]))
  logs = {name: float(value) for name, value in logs.items()}
  assert set(logs) == set(model.term_names)
  # Coding has no ADMM penalty: the loss is the distortion alone.
  assert logs["admm_penalty"] == 0
  assert logs["loss"] == pytest.approx(logs["distortion"])
  assert logs["distortion"] == pytest.approx(logs["mse"])  # No MS-SSIM.
  assert 0 <= logs["nonzero_fraction"] <= 0.25


def _loud(model, gain=30.0):
  """`model` with g_a's last kernel scaled up: an untrained encoder's
  latents all round to 0; these span several integers, as trained ones do."""
  kernel = [w for w in model.g_a.weights if w.shape.rank == 4][-1]
  kernel.assign(kernel * gain)
  return model


def test_file_size_falls_with_keep_fraction(tmp_path):
  """One set of weights, two kept fractions: fewer non-zero latents, and a
  smaller file, at the smaller fraction."""
  x = synthetic_image(64, 64)
  sizes, nonzero = {}, {}
  for fraction in (0.05, 0.5):
    path = save_with_fitted_tables(
        lambda f=fraction: _loud(CAEADMMModel(
            num_filters=8, latent_channels=4, keep_fraction=f)),
        tmp_path / f"{fraction}.npz", cae_codec.fitted_tables)
    codec = cae_codec.load(path)
    sizes[fraction] = len(codec.compress(x))
    nonzero[fraction] = np.count_nonzero(codec.latents(x))
    assert nonzero[fraction] <= np.ceil(fraction * codec.latents(x).size)
  assert nonzero[0.05] < nonzero[0.5] and sizes[0.05] < sizes[0.5], sizes


def _crops(count=4, side=32):
  """`count` distinct uint8 crops [count, side, side, 3]."""
  return np.stack([np.roll(synthetic_image(side, side), 5 * k, axis=k % 2)
                   for k in range(count)])


def _admm_model(count=4, side=32, **kwargs):
  """A loud model with Z and U for `count` crops of side x side."""
  kwargs = dict(dict(num_filters=8, latent_channels=4, keep_fraction=0.05),
                **kwargs)
  return _loud(CAEADMMModel(admm_shape=(count, side // 8, side // 8, 4),
                            **kwargs))


def test_admm_steps_update_only_their_crops():
  """Z[i] = Pi_l(z + U[i]) and U[i] += z - Z[i] for the given crops only;
  the first Z-step leaves U at 0."""
  tf.keras.utils.set_random_seed(0)
  x = _crops()
  model = _admm_model()
  model.admm_update(tf.constant([0, 1, 2, 3]), x, update_dual=False)
  assert not np.any(model.dual.numpy())
  z_before, u_before = model.admm_z.numpy(), model.dual.numpy()
  keep = int(admm.keep_count((4, 4, 4), 0.05))
  z = model.g_a(tf.constant(x, tf.float32)).numpy()
  for i in range(4):
    np.testing.assert_array_equal(
        z_before[i], admm.project_cardinality(z[i:i + 1], keep)[0])
  model.admm_update(tf.constant([1, 3]), x[[1, 3]])
  z_after, u_after = model.admm_z.numpy(), model.dual.numpy()
  for i in (0, 2):  # Untouched.
    np.testing.assert_array_equal(z_after[i], z_before[i])
    np.testing.assert_array_equal(u_after[i], u_before[i])
  for i in (1, 3):
    expected = admm.project_cardinality(z[i:i + 1] + u_before[i], keep)[0]
    np.testing.assert_allclose(z_after[i], expected, atol=1e-6)
    np.testing.assert_allclose(u_after[i], u_before[i] + z[i] - expected,
                               atol=1e-6)
    assert np.any(u_after[i])


def test_each_crop_is_penalised_by_its_own_admm_variables():
  """Right after the first Z-step, Z[i] = Pi_l(z[i]) = z[i] (all kept):
  crops 0 and 1 are within rounding of their own Z and far from those of
  crops 2 and 3."""
  tf.keras.utils.set_random_seed(0)
  x = _crops()
  model = _admm_model(keep_fraction=1.0)
  model.compile(optimizer=tf.keras.optimizers.SGD(0.0))
  model.admm_update(tf.range(4), x, update_dual=False)
  penalties = []
  for indices in ([0, 1], [2, 3]):
    model.reset_metrics()
    logs = model.train_step((tf.constant(indices), tf.constant(x[:2])))
    penalties.append(float(logs["admm_penalty"]))
  assert penalties[0] < 0.5 * penalties[1], penalties


def _record_admm_variables(model, crops, epochs, every, steps_per_epoch=2):
  """Z and U after the start and after each epoch of `fit` on `crops`."""
  from cae_admm import train  # pylint: disable=import-outside-toplevel
  states = []

  class Record(tf.keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
      states.append((model.admm_z.numpy(), model.dual.numpy()))

    def on_epoch_end(self, epoch, logs=None):
      states.append((model.admm_z.numpy(), model.dual.numpy()))

  model.fit(train.crop_dataset(crops, 2, seed=0), epochs=epochs,
            steps_per_epoch=steps_per_epoch, verbose=0,
            callbacks=[train.ADMMSchedule(every, 2, crops), Record()])
  return states


def test_admm_schedule_fires_every_k_epochs():
  """Z is set before the first step (U stays 0); the Z- and U-steps run
  after every second epoch only (weights frozen, so that only the
  schedule moves Z and U)."""
  tf.keras.utils.set_random_seed(0)
  model = _admm_model()
  model.compile(optimizer=tf.keras.optimizers.SGD(0.0))
  states = _record_admm_variables(model, _crops(), epochs=4, every=2)
  assert np.any(states[0][0]) and not np.any(states[0][1])
  changed = [not np.array_equal(a[1], b[1]) for a, b in zip(states,
                                                            states[1:])]
  assert changed == [False, True, False, True]


def test_crop_dataset_visits_every_crop_once_per_pass():
  from cae_admm import train  # pylint: disable=import-outside-toplevel
  crops = _crops(6, 16)
  batches = list(train.crop_dataset(crops, 2, seed=0).take(6))
  for n in (0, 3):
    indices = np.concatenate([i.numpy() for i, _ in batches[n:n + 3]])
    assert sorted(indices) == list(range(6))
  for indices, x in batches:
    np.testing.assert_array_equal(x.numpy(), crops[indices.numpy()])


def test_admm_variables_are_checkpointed(tmp_path):
  """A resumed run gets back every crop's Z and U with the weights."""
  model = _admm_model()
  model.admm_z.assign(tf.ones_like(model.admm_z))
  tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
  names = [name for name, _ in tf.train.list_variables(str(tmp_path /
                                                           "ckpt"))]
  assert any("admm_z" in n for n in names) and any("dual" in n
                                                   for n in names)
  restored = _admm_model()
  tf.train.Checkpoint(model=restored).read(str(tmp_path / "ckpt"))
  np.testing.assert_array_equal(restored.admm_z.numpy(), 1)


def test_masked_retraining_starts_on_its_step():
  """From step retrain_from on, the decoder sees the pruned latents."""
  tf.keras.utils.set_random_seed(0)
  x = _crops(2)
  model = _admm_model(2, retrain_from=3)
  model.compile(optimizer=tf.keras.optimizers.SGD(0.0))
  model.admm_update(tf.range(2), x, update_dual=False)
  kept = admm.keep_count((4, 4, 4), 0.05) / 64  # ceil(0.05 * 64) of 64.
  fractions = []
  for _ in range(4):
    model.reset_metrics()  # Each step's own figures, not running means.
    logs = model.train_step((tf.range(2), tf.constant(x)))
    fractions.append(float(logs["nonzero_fraction"]))
  assert min(fractions[:3]) > 2 * kept and fractions[3] <= kept, fractions


@pytest.mark.slow
def test_admm_training_drives_the_pruned_latents_to_zero():
  """The same model and crops, 30 Adam steps with and without the ADMM
  term (strong rho, so that a short run shows it; both prune when coding):
  with ADMM, what the projection will drop at coding time is far smaller."""
  x = _crops(2)
  dropped = {}
  for mode in ("full", "off"):
    tf.keras.utils.set_random_seed(0)
    model = CAEADMMModel(num_filters=8, latent_channels=4, keep_fraction=0.1,
                         rho=1e6, admm_mode=mode,
                         admm_shape=(2, 4, 4, 4) if mode == "full" else None)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
    if mode == "full":
      _record_admm_variables(model, x, epochs=6, every=1,
                             steps_per_epoch=5)
    else:
      model.fit(x.astype(np.float32), epochs=30, batch_size=2, verbose=0)
    z = model.g_a(tf.constant(x, tf.float32))
    kept = admm.project_cardinality(z, admm.keep_count((4, 4, 4), 0.1))
    dropped[mode] = float(tf.reduce_mean(tf.abs(z - kept)))
  assert dropped["full"] < 0.5 * dropped["off"], dropped


def test_cli_refuses_bad_bitstreams_in_one_line(tmp_path, capsys):
  # Loud, so that the payload is not empty and can be truncated.
  model_path = save_with_fitted_tables(
      lambda: _loud(CAEADMMModel(num_filters=8, latent_channels=4)),
      tmp_path / "model.npz", cae_codec.fitted_tables)
  assert_cli_refuses_bad_bitstreams(
      cli, "cae_admm", model_path, _model_file(tmp_path / "other.npz", seed=1),
      tmp_path, capsys)


@pytest.mark.parametrize("mode", ["full", "no_dual", "off"])
def test_admm_ablation_modes(mode):
  """full updates U; no_dual keeps U at 0 but keeps the penalty; off has no
  penalty and no ADMM variables. All three code the pruned latents."""
  tf.keras.utils.set_random_seed(0)
  x = _crops(2)
  if mode == "off":
    model = _loud(CAEADMMModel(num_filters=8, latent_channels=4,
                               keep_fraction=0.05, admm_mode=mode))
    batch = tf.constant(x)
  else:
    model = _admm_model(2, admm_mode=mode)
    model.admm_update(tf.range(2), x, update_dual=False)
    model.admm_update(tf.range(2), x)
    assert np.any(model.dual.numpy()) == (mode == "full")
    batch = (tf.range(2), tf.constant(x))
  assert model.trains_admm == (mode != "off")
  model.compile(optimizer=tf.keras.optimizers.SGD(0.0))
  logs = model.train_step(batch)
  assert (float(logs["admm_penalty"]) > 0) == (mode != "off")
  kept = admm.keep_count((4, 4, 4), 0.05)
  assert np.count_nonzero(model.quantize(model.g_a(x))[0]) <= kept


@pytest.mark.slow
def test_every_ablation_mode_trains_on_the_same_crops(tmp_path, monkeypatch):
  """--admm full/off and --nopruning see the same batches (the ablations
  compare them on the same data), and their files say so."""
  from cae_admm import ablation, train as train_lib
  pattern = write_training_images(tmp_path / "train", [(48, 48), (48, 56)])
  seen = {}
  real_fit = train_lib.training.fit_and_save

  def recording_fit(model, config, dataset, **kwargs):
    batches = [b[1] if isinstance(b, tuple) else b
               for b in dataset.take(4).as_numpy_iterator()]
    seen[config.model_path] = np.stack(batches)
    return real_fit(model, config, dataset, **kwargs)

  monkeypatch.setattr(train_lib.training, "fit_and_save", recording_fit)
  flags = {"full": ["--admm", "full"], "off": ["--admm", "off"],
           "nopruning": ["--nopruning"]}
  for name, extra in flags.items():
    assert run_main(
        cli, "cae_admm", "train", "--train_glob", pattern, "--model_path",
        tmp_path / f"{name}.npz", "--num_filters", "8", "--latent_channels",
        "4", "--patchsize", "32", "--batchsize", "2", "--epochs", "1",
        "--steps_per_epoch", "2", "--seed", "0", "--verbose", "0",
        *extra) == 0
  first, *others = seen.values()
  for batches in others:
    np.testing.assert_array_equal(batches, first)
  for name in flags:
    codec = cae_codec.load(str(tmp_path / f"{name}.npz"))
    assert ablation.describe(codec)["sampling"] == train_lib.SAMPLING, name


def test_admm_mode_is_checked_and_kept_in_the_model_file(tmp_path):
  with pytest.raises(ValueError, match="admm_mode 'half'"):
    CAEADMMModel(num_filters=8, latent_channels=4, admm_mode="half")
  path = save_with_fitted_tables(
      lambda: CAEADMMModel(num_filters=8, latent_channels=4,
                           admm_mode="no_dual"),
      tmp_path / "m.npz", cae_codec.fitted_tables)
  assert model_file.load(str(path), CAEADMMModel).model.admm_mode == "no_dual"


def test_train_flags_default_to_the_described_recipe():
  from cae_admm.config import Config  # pylint: disable=import-outside-toplevel
  args = cli.parse_args(["cae_admm", "train", "--train_glob", "x/*.png"])
  config = Config.from_flags(args)
  assert (config.flips, config.lr_schedule, config.admm) == (
      True, "plateau", "full")
  args = cli.parse_args(["cae_admm", "train", "--noflips", "--lr_schedule",
                         "cosine", "--admm", "no_dual"])
  config = Config.from_flags(args)
  assert (config.flips, config.lr_schedule, config.admm) == (
      False, "cosine", "no_dual")


def test_distortion_blends_mse_ms_ssim_and_ssim():
  x = tf.constant(np.stack([synthetic_image(96, 96)] * 2), tf.float32)
  x_hat = tf.clip_by_value(x + tf.random.stateless_normal(x.shape, [0, 1]) *
                           8, 0, 255)
  mse = float(tf.reduce_mean(tf.square(x - x_hat)))
  ssim = float(tf.reduce_mean(tf.image.ssim(x, x_hat, 255)))
  for weights, expected in [((0.0, 0.0), mse),
                            ((0.0, 1.0), model_lib.SSIM_SCALE * (1 - ssim)),
                            ((0.0, 0.25), 0.75 * mse + 0.25 *
                             model_lib.SSIM_SCALE * (1 - ssim))]:
    model = CAEADMMModel(num_filters=8, latent_channels=4,
                         ms_ssim_weight=weights[0], ssim_weight=weights[1])
    distortion, model_mse = model.distortion(x, x_hat)
    assert float(model_mse) == pytest.approx(mse, rel=1e-5)
    assert float(distortion) == pytest.approx(expected, rel=1e-5)
  # MS-SSIM's share moves the blend away from the MSE + SSIM one.
  both = CAEADMMModel(num_filters=8, latent_channels=4, ms_ssim_weight=0.5,
                      ssim_weight=0.25).distortion(x, x_hat)[0]
  assert float(both) != pytest.approx(expected, rel=1e-3)
  for weights in [(0.8, 0.3), (-0.1, 0.0)]:
    with pytest.raises(ValueError, match="sum <= 1"):
      CAEADMMModel(num_filters=8, latent_channels=4, ms_ssim_weight=weights[0],
                   ssim_weight=weights[1])


def test_training_distortion_is_mse_until_perceptual_from():
  """The MSE-then-perceptual schedule: the loss is the MSE for steps 0
  and 1, the SSIM blend from step 2 on."""
  tf.keras.utils.set_random_seed(0)
  x = tf.constant(np.stack([synthetic_image(32, 32)] * 2), tf.float32)
  model = CAEADMMModel(num_filters=8, latent_channels=4, pruning=False,
                       ssim_weight=0.5, perceptual_from=2)
  model.compile(optimizer=tf.keras.optimizers.SGD(0.0))
  is_mse = []
  for _ in range(4):
    model.reset_metrics()
    logs = model.train_step(x)
    is_mse.append(float(logs["distortion"]) == float(logs["mse"]))
  assert is_mse == [True, True, False, False]


def test_perceptual_schedule_flags_reach_the_model(tmp_path):
  from cae_admm import train  # pylint: disable=import-outside-toplevel
  from cae_admm.config import Config  # pylint: disable=import-outside-toplevel
  args = cli.parse_args(["cae_admm", "train", "--ssim_weight", "0.4",
                         "--mse_fraction", "0.5", "--epochs", "4",
                         "--steps_per_epoch", "10"])
  model = train.make_model(Config.from_flags(args))
  assert (model.ssim_weight, model.perceptual_from) == (0.4, 20)
  path = save_with_fitted_tables(lambda: model, tmp_path / "m.npz",
                                 cae_codec.fitted_tables)
  loaded = model_file.load(path, CAEADMMModel).model
  assert (loaded.ssim_weight, loaded.perceptual_from) == (0.4, 20)

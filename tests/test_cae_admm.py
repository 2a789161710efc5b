"""CAE-ADMM: the ADMM pieces, stochastic rounding, training and the codec."""

import json
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from bls2017.core import bitstream, codec as shared_codec, model_file
from cae_admm import admm, cli
from cae_admm import codec as cae_codec
from cae_admm.model import CAEADMMModel
from cli_helpers import (assert_cli_refuses_bad_bitstreams,
                         assert_exported_codec_round_trips, run_main)
from conftest import load_and_round_trip, save_with_fitted_tables
from synthetic import synthetic_image, write_training_images

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
  for k, (h, w) in enumerate([(40, 48), (32, 56), (48, 40)]):
    Image.fromarray(synthetic_image(h, w)).save(tmp_path / f"{k}.png")
    paths.append(str(tmp_path / f"{k}.png"))
  codecs = [cae_codec.load(cae_path),
            cae_codec.load(_model_file(tmp_path / "np.npz", pruning=False))]
  results = ablation.run(codecs, ["pruned", "unpruned"], paths,
                         str(tmp_path / "a.json"))
  # Pruned to 25 % of the latents: at least 75 % zeros.
  assert results["pruned"]["zero_fraction"] >= 0.75
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


def test_dual_update_and_retraining_fire_on_their_steps():
  """U changes only on steps that are multiples of admm_every; from step
  retrain_from on, the decoder sees the pruned latents."""
  tf.keras.utils.set_random_seed(0)
  x = tf.constant(np.stack([synthetic_image(32, 32)] * 2), tf.float32)
  model = _loud(CAEADMMModel(num_filters=8, latent_channels=4,
                             keep_fraction=0.05, admm_every=2, retrain_from=3,
                             admm_shape=(2, 4, 4, 4)))
  kept = admm.keep_count((4, 4, 4), 0.05) / 64  # ceil(0.05 * 64) of 64.
  model.compile(optimizer=tf.keras.optimizers.SGD(0.0))
  duals, fractions = [model.dual.numpy()], []
  for _ in range(4):
    model.reset_metrics()  # Each step's own figures, not running means.
    logs = model.train_step(x)
    duals.append(model.dual.numpy())
    fractions.append(float(logs["nonzero_fraction"]))
  changed = [not np.array_equal(a, b) for a, b in zip(duals, duals[1:])]
  assert changed == [False, True, False, True]
  assert min(fractions[:3]) > 2 * kept and fractions[3] <= kept, fractions


@pytest.mark.slow
def test_admm_training_drives_the_pruned_latents_to_zero():
  """The same model and patches, 30 Adam steps with and without the ADMM
  term (strong rho, so that a short run shows it; both prune when coding):
  with ADMM, what the projection will drop at coding time is far smaller."""
  x = np.stack([synthetic_image(32, 32), synthetic_image(32, 32)[::-1]])
  dropped = {}
  for mode in ("full", "off"):
    tf.keras.utils.set_random_seed(0)
    model = CAEADMMModel(num_filters=8, latent_channels=4, keep_fraction=0.1,
                         rho=1e6, admm_every=5, admm_shape=(2, 4, 4, 4),
                         admm_mode=mode)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
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
  penalty. All three code the pruned latents."""
  tf.keras.utils.set_random_seed(0)
  x = tf.constant(np.stack([synthetic_image(32, 32)] * 2), tf.float32)
  model = _loud(CAEADMMModel(num_filters=8, latent_channels=4,
                             keep_fraction=0.05, admm_every=1,
                             admm_shape=(2, 4, 4, 4), admm_mode=mode))
  model.compile(optimizer=tf.keras.optimizers.SGD(0.0))
  logs = model.train_step(x)
  assert np.any(model.dual.numpy()) == (mode == "full")
  assert (float(logs["admm_penalty"]) > 0) == (mode != "off")
  kept = admm.keep_count((4, 4, 4), 0.05)
  assert np.count_nonzero(model.quantize(model.g_a(x))[0]) <= kept


def test_admm_mode_is_checked_and_kept_in_the_model_file(tmp_path):
  with pytest.raises(ValueError, match="admm_mode 'half'"):
    CAEADMMModel(num_filters=8, latent_channels=4, admm_mode="half")
  path = save_with_fitted_tables(
      lambda: CAEADMMModel(num_filters=8, latent_channels=4,
                           admm_mode="no_dual"),
      tmp_path / "m.npz", cae_codec.fitted_tables)
  assert model_file.load(str(path), CAEADMMModel).model.admm_mode == "no_dual"


def test_train_flags_default_to_the_described_recipe():
  from cae_admm import train  # pylint: disable=import-outside-toplevel
  args = cli.parse_args(["cae_admm", "train", "--train_glob", "x/*.png"])
  config = train.Config.from_flags(args)
  assert (config.flips, config.lr_schedule, config.admm) == (
      True, "plateau", "full")
  args = cli.parse_args(["cae_admm", "train", "--noflips", "--lr_schedule",
                         "cosine", "--admm", "no_dual"])
  config = train.Config.from_flags(args)
  assert (config.flips, config.lr_schedule, config.admm) == (
      False, "cosine", "no_dual")


def test_readme_admm_ablation_table_is_the_committed_result():
  from cae_admm import ablation  # pylint: disable=import-outside-toplevel
  from cli_helpers import ROOT  # pylint: disable=import-outside-toplevel
  import os  # pylint: disable=import-outside-toplevel
  with open(os.path.join(ROOT, "docs", "related",
                         "cae_admm_modes_ablation.json")) as f:
    results = json.load(f)
  with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
    readme = f.read()
  labels = {"cae-admm-full.npz": "ADMM as built (`--admm full`)",
            "cae-admm-no_dual.npz": "U held at 0 (`--admm no_dual`)",
            "cae-admm-off.npz":
                "no ADMM term, coding still pruned (`--admm off`)"}
  assert ablation.table(results, labels) in readme
  # The training budget the README gives is the models' own record.
  steps = {figures["steps"] for figures in results.values()}
  assert len(steps) == 1 and f"{steps.pop():,} steps of" in readme

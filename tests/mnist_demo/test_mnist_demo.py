"""The MNIST tutorial package on tiny generated IDX files (no download)."""

import json
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from mnist_demo import cli, data, training
from helpers.commands import run_main, run_without_project
from helpers.synthetic import disc_digits
from mnist_demo.model import MNISTCompressionTrainer, make_mnist_codec


def run_cli(*argv):
  return run_main(cli, "mnist_demo", *argv)


def test_idx_reader(mnist_dir):
  images, labels = data.load_idx(mnist_dir, "train")
  assert images.shape == (384, 28, 28, 1) and images.dtype == np.uint8
  assert labels.shape == (384,)
  np.testing.assert_array_equal(images[..., 0], disc_digits(384, 0))


def test_truncated_idx(tmp_path):
  path = tmp_path / "x-idx3-ubyte"
  path.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc")
  with pytest.raises(data.DataError, match="truncated"):
    data.read_idx(str(path))


def test_missing_data_says_what_to_pass(tmp_path, monkeypatch):
  with pytest.raises(data.DataError, match="train-images-idx3-ubyte"):
    data.dataset("train", str(tmp_path))
  import tensorflow_datasets as tfds

  def offline(*args, **kwargs):
    raise ConnectionError("no network")
  monkeypatch.setattr(tfds, "load", offline)
  with pytest.raises(data.DataError, match="--mnist_dir"):
    data.dataset("train")


def test_transform_shapes():
  trainer = MNISTCompressionTrainer(latent_dims=7)
  y = trainer.g_a(tf.zeros((3, 28, 28, 1)))
  assert y.shape == (3, 7)
  assert trainer.g_s(y).shape == (3, 28, 28, 1)
  rate, distortion = trainer(tf.zeros((3, 28, 28, 1), tf.uint8))
  assert rate.shape == distortion.shape == ()


def _trained(mnist_dir, lmbda, epochs=20):
  tf.keras.utils.set_random_seed(0)
  digits = data.dataset("train", mnist_dir).batch(32)
  trainer = MNISTCompressionTrainer(lmbda, latent_dims=10)
  # A high learning rate, so that a few dozen steps move the prior's scales.
  trainer.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
  trainer.fit(digits, epochs=epochs, verbose=0)
  return trainer


@pytest.fixture(scope="module")
def trained(mnist_dir):
  return _trained(mnist_dir, 2000.)


@pytest.mark.slow
def test_rate_is_finite_and_drops_with_lambda(mnist_dir, trained):
  test = np.stack(list(data.dataset("test", mnist_dir).as_numpy_iterator()))
  rate_high, distortion_high = map(float, trained(test))
  rate_low, distortion_low = map(float, _trained(mnist_dir, 50.)(test))
  assert np.isfinite([rate_high, rate_low]).all()
  assert rate_low < rate_high
  assert distortion_low > distortion_high


def test_codec_shares_one_entropy_model_and_round_trips(mnist_dir, trained):
  compressor, decompressor = make_mnist_codec(trained)
  assert compressor.entropy_model is decompressor.entropy_model
  digits = disc_digits(16, 5)[..., None]
  strings, bits = compressor.compress(digits)
  assert strings.shape == bits.shape == (16,)
  decoded = decompressor.decompress(strings).numpy()
  # The same digits as rounding the latents in the trainer's transforms.
  y_hat = tf.round(trained.g_a(digits.astype(np.float32) / 255.))
  expected = tf.saturate_cast(tf.round(trained.g_s(y_hat) * 255.), tf.uint8)
  np.testing.assert_array_equal(decoded, expected.numpy())
  # Whole bytes and coder termination make the strings longer in total
  # than their information content (a single string may come out shorter).
  lengths = np.array([8 * len(s) for s in strings.numpy()])
  assert lengths.sum() > bits.numpy().sum()


@pytest.mark.parametrize("length", [0, 1, 5, 32])
def test_decoder_generates_from_random_strings(trained, length):
  _, decompressor = make_mnist_codec(trained, decode_sanity_check=False)
  rng = np.random.default_rng(length)
  strings = tf.constant([rng.bytes(length) for _ in range(6)])
  samples = decompressor.decompress(strings).numpy()
  assert samples.shape == (6, 28, 28, 1) and samples.dtype == np.uint8
  # Each sample is g_s of the latents its string decodes to ...
  y_hat = decompressor.entropy_model.decompress(strings, ())
  expected = tf.saturate_cast(tf.round(trained.g_s(y_hat) * 255.), tf.uint8)
  np.testing.assert_array_equal(samples, expected.numpy())
  # ... so equal strings give equal digits and different strings, here,
  # different ones (empty strings decode to the same latents).
  distinct = len({sample.tobytes() for sample in samples})
  assert distinct == (1 if length == 0 else 6), distinct


@pytest.mark.slow
def test_cli_train_codec_sample_export(mnist_dir, tmp_path, capsys):
  out = tmp_path / "model"
  assert run_cli("train", "--mnist_dir", mnist_dir, "--output_dir", out,
                 "--epochs", "1", "--latent_dims", "8", "--seed", "0",
                 "--verbose", "0") == 0
  record = json.loads((out / "config.json").read_text())
  assert record["epochs"] == 1 and record["machine"]["cores"]  # Its machine.
  assert run_cli("codec", "--mnist_dir", mnist_dir, "--output_dir", out) == 0
  printed = capsys.readouterr().out
  assert printed.count("0x") >= 16 and "information content" in printed
  assert run_cli("sample", "--output_dir", out) == 0
  assert run_cli("export", "--output_dir", out) == 0
  for figure in ("prior.png", "codec_grid.png", "samples.png"):
    assert (out / figure).stat().st_size > 1000, figure

  digits = disc_digits(5, 9)[..., None]
  np.save(tmp_path / "digits.npy", digits)
  script = textwrap.dedent(f"""
      import sys
      import numpy as np
      import tensorflow as tf
      import tensorflow_compression  # registers the range coding ops
      digits = np.load({str(tmp_path / 'digits.npy')!r})
      c = tf.saved_model.load({str(out / 'export/compressor')!r})
      d = tf.saved_model.load({str(out / 'export/decompressor')!r})
      strings, bits = c.compress(digits)
      np.save({str(tmp_path / 'out.npy')!r}, d.decompress(strings).numpy())
      print(b"|".join(strings.numpy()).hex())
      assert not any(m.startswith(("mnist_demo", "bls2017"))
                     for m in sys.modules)
  """)
  result = run_without_project(script, tmp_path)
  compressor, decompressor = make_mnist_codec(training.load_trainer(out))
  strings, _ = compressor.compress(digits)
  assert result.stdout.strip() == b"|".join(strings.numpy()).hex()
  np.testing.assert_array_equal(np.load(tmp_path / "out.npy"),
                                decompressor.decompress(strings).numpy())


def test_cli_missing_model_is_one_line_error(tmp_path, capsys):
  assert run_cli("codec", "--output_dir", tmp_path / "none") == 1
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "mnist_demo train" in err

"""Compressor/Decompressor: bit-exact round trips and shared tables."""

import numpy as np
import pytest

from bls2017.core import bitstream, codec, images, model_file
from bls2017.core.entropy import factorized
from bls2017.paper.model import BLS2017Model
from helpers.synthetic import synthetic_image


@pytest.fixture(scope="module")
def rgb_codec(rgb_model_path):
  return codec.load(rgb_model_path)


def test_compressor_and_decompressor_share_one_entropy_model(rgb_codec):
  assert rgb_codec.compressor.encoder.coder is (
      rgb_codec.decompressor.decoder.coder)
  assert rgb_codec.compressor.encoder.coder.model.compression


@pytest.mark.parametrize("height,width", [(16, 16), (15, 17), (1, 1),
                                          (37, 100)])
def test_round_trip_exact_size_and_matches_model(rgb_codec, height, width):
  x = synthetic_image(height, width)
  data = rgb_codec.compress(x)
  x_hat = rgb_codec.decompress(data)
  assert x_hat.dtype == np.uint8
  np.testing.assert_array_equal(x_hat, _model_reconstruction(rgb_codec, x))


def _model_reconstruction(codec_, x):
  """x through the training model with rounded latents, as the codec
  should decode it: edge padding, y_hat = round(y - offset) + offset."""
  height, width = x.shape[:2]
  padded = np.pad(x, ((0, -height % 16), (0, -width % 16), (0, 0)),
                  mode="edge").astype(np.float32)
  y = codec_.model.g_a(padded[None])
  offset = codec_.loaded.tables["quantization_offset"]
  y_hat = np.round(y - offset) + offset
  x_hat = np.round(codec_.model.g_s(y_hat)[0, :height, :width])
  return np.clip(x_hat, 0, 255).astype(np.uint8)


def test_compression_is_deterministic(rgb_codec):
  x = synthetic_image(48, 40)
  assert rgb_codec.compress(x) == rgb_codec.compress(x)


def test_grayscale_model(gray_model_path):
  gray = codec.load(gray_model_path)
  x = synthetic_image(33, 20, channels=1)
  data = gray.compress(x)
  assert data[3] == 1  # The header's channel count.
  np.testing.assert_array_equal(gray.decompress(data),
                                _model_reconstruction(gray, x))


def test_reloaded_model_has_same_fingerprint_and_bitstream(rgb_model_path,
                                                           rgb_codec):
  again = codec.load(rgb_model_path)
  assert again.fingerprint == rgb_codec.fingerprint
  x = synthetic_image(40, 40)
  assert again.compress(x) == rgb_codec.compress(x)


def test_stored_tables_are_used_not_recomputed(rgb_model_path, rgb_codec,
                                               tmp_path):
  """Coding follows the tables in the file, not tables rebuilt from the
  weights: other stored quantization offsets give other bits."""
  with np.load(rgb_model_path) as archive:
    arrays = {name: archive[name] for name in archive.files}
  arrays["quantization_offset"] = np.full_like(
      arrays["quantization_offset"], 0.4)
  altered = tmp_path / "offsets.npz"
  np.savez(altered, **arrays)
  other = codec.load(str(altered))
  x = synthetic_image(48, 64)
  data = other.compress(x)
  assert data[bitstream.HEADER_BYTES:] != (
      rgb_codec.compress(x)[bitstream.HEADER_BYTES:])
  assert other.decompress(data).shape == x.shape
  coder = factorized.FactorizedCoder(model_file.load(str(altered)).tables, 8)
  np.testing.assert_array_equal(
      coder.model.quantization_offset.numpy(), np.full(8, 0.4, np.float32))


def test_model_file_with_altered_tables_refuses_old_bitstreams(
    rgb_codec, rgb_model_path, tmp_path):
  """Tables are part of the model's identity: a mismatch is not decoded."""
  data = rgb_codec.compress(synthetic_image(32, 48))
  with np.load(rgb_model_path) as archive:
    arrays = {name: archive[name] for name in archive.files}
  arrays["cdf"] = arrays["cdf"].copy()
  arrays["cdf"][1] += 1
  altered = tmp_path / "altered.npz"
  np.savez(altered, **arrays)
  with pytest.raises(bitstream.WrongModelError):
    codec.load(str(altered)).decompress(data)


def test_wrong_model_refused(rgb_codec, other_rgb_model_path):
  other = codec.load(other_rgb_model_path)
  data = other.compress(synthetic_image(32, 32))
  with pytest.raises(bitstream.WrongModelError):
    rgb_codec.decompress(data)


def test_wrong_input_shape_refused(rgb_codec):
  with pytest.raises(ValueError, match="uint8 image"):
    rgb_codec.compress(synthetic_image(8, 8, channels=1))


def test_corrupt_model_file(tmp_path):
  path = tmp_path / "bad.npz"
  path.write_bytes(b"not a zip")
  with pytest.raises(model_file.ModelFileError, match="not a model file"):
    model_file.load(str(path))
  with pytest.raises(model_file.ModelFileError, match="not a bls2017 model"):
    model_file.load(str(path), BLS2017Model)
  with pytest.raises(model_file.ModelFileError, match="no such"):
    model_file.load(str(tmp_path / "missing.npz"))


def test_image_limits(tmp_path):
  from PIL import Image
  path = tmp_path / "bomb.png"
  Image.new("L", (9000, 8000)).save(path)
  with pytest.raises(images.ImageError, match="exceeds"):
    images.read(str(path))

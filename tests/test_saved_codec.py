"""The commands' cached SavedModel codec: the Keras codec's bytes, errors
and limits, exported once per model file."""

import os

import numpy as np
import pytest

from bls2017.core import bitstream, codec, images, saved_codec
from cli_helpers import run_cli
from synthetic import synthetic_image


def test_same_bytes_and_pixels_as_the_keras_codec(rgb_model_path, tmp_path,
                                                  monkeypatch):
  monkeypatch.setenv("BLS2017_CACHE", str(tmp_path / "cache"))
  keras_codec = codec.load(rgb_model_path)
  saved = saved_codec.open_codec(rgb_model_path)
  assert isinstance(saved, saved_codec.SavedCodec)
  assert (saved.channels, saved.fingerprint, saved.magic) == (
      keras_codec.channels, keras_codec.fingerprint, keras_codec.magic)
  x = synthetic_image(37, 70)
  data = saved.compress(x)
  assert data == keras_codec.compress(x)
  np.testing.assert_array_equal(saved.decompress(data),
                                keras_codec.decompress(data))
  # Exported once: a second open uses the same entry.
  entries = os.listdir(tmp_path / "cache")
  assert len(entries) == 1 and not entries[0].startswith(".")
  again = saved_codec.open_codec(rgb_model_path)
  assert again.entry == saved.entry and os.listdir(tmp_path / "cache") == (
      entries)


@pytest.mark.slow
def test_errors_and_limits_are_the_keras_codecs(rgb_model_path,
                                                other_rgb_model_path,
                                                tmp_path, monkeypatch):
  monkeypatch.setenv("BLS2017_CACHE", str(tmp_path / "cache"))
  saved = saved_codec.open_codec(rgb_model_path)
  data = saved.compress(synthetic_image(16, 16))
  with pytest.raises(bitstream.WrongModelError):
    saved_codec.open_codec(other_rgb_model_path).decompress(data)
  flipped = bytearray(data)
  flipped[-1] ^= 1
  with pytest.raises(bitstream.CorruptBitstreamError):
    saved.decompress(bytes(flipped))
  with pytest.raises(ValueError, match="uint8 image"):
    saved.compress(synthetic_image(8, 8, channels=1))
  saved.max_pixels = 100
  with pytest.raises(images.ImageError, match="at most 100 pixels"):
    saved.compress(synthetic_image(16, 16))


def test_off_builds_the_keras_codec(rgb_model_path, monkeypatch):
  monkeypatch.setenv("BLS2017_CACHE", "off")
  assert isinstance(saved_codec.open_codec(rgb_model_path), codec.Codec)


@pytest.mark.slow
def test_commands_fill_the_cache_once(rgb_model_path, write_image, tmp_path,
                                      monkeypatch):
  monkeypatch.setenv("BLS2017_CACHE", str(tmp_path / "cache"))
  path, x = write_image(30, 47)
  for _ in range(2):
    assert run_cli("compress", path, "--model_path", rgb_model_path) == 0
    assert run_cli("decompress", path + ".tfci", "--model_path",
                   rgb_model_path) == 0
  assert len(os.listdir(tmp_path / "cache")) == 1
  with open(path + ".tfci", "rb") as f:
    data = f.read()
  assert data == codec.load(rgb_model_path).compress(x)
  # A corrupt file through the cached codec: a one-line error, status 1.
  corrupt = tmp_path / "corrupt.tfci"
  corrupt.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
  assert run_cli("decompress", corrupt, "--model_path", rgb_model_path) == 1

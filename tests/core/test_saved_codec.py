"""The commands' cached SavedModel codec: the Keras codec's bytes, errors
and limits, exported once per model file."""

import os

import numpy as np
import pytest

from bls2017.core import bitstream, codec, images, saved_codec
from helpers.commands import run_cli
from helpers.synthetic import synthetic_image


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


def test_both_codecs_offer_one_interface(rgb_model_path, tmp_path,
                                         monkeypatch):
  monkeypatch.setenv("BLS2017_CACHE", str(tmp_path / "cache"))
  from bls2017.core import model_file  # pylint: disable=import-outside-toplevel
  path = str(tmp_path / "recorded.npz")
  model_file.save(model_file.load(rgb_model_path).model, path,
                  metadata={"steps": 3, "command": "bls2017 train"})
  keras_codec = codec.load(path)
  saved = saved_codec.open_codec(path)
  for each in (keras_codec, saved):
    assert isinstance(each, codec.CodecInterface)
  assert saved.metadata == keras_codec.metadata == {
      "steps": 3, "command": "bls2017 train"}
  assert (saved.method, saved.description) == (keras_codec.method,
                                               keras_codec.description)
  x = synthetic_image(20, 36)
  assert saved.information_content(x) == keras_codec.information_content(x)
  assert isinstance(saved_codec.open_codec(path, keras=True), codec.Codec)


def test_a_cached_run_reads_the_model_file_once_and_decodes_no_weights(
    rgb_model_path, tmp_path, monkeypatch):
  monkeypatch.setenv("BLS2017_CACHE", str(tmp_path / "cache"))
  x = synthetic_image(24, 40)
  data = saved_codec.open_codec(rgb_model_path).compress(x)  # Fills it.
  from bls2017.core import model_file, stored_weights  # pylint: disable=import-outside-toplevel
  import builtins  # pylint: disable=import-outside-toplevel
  opened, real_open = [], builtins.open

  def counting_open(file, *args, **kwargs):
    if str(file) == str(rgb_model_path):
      opened.append(file)
    return real_open(file, *args, **kwargs)

  def refuse(*_, **__):
    raise AssertionError("weights decoded on a cached run")

  monkeypatch.setattr(builtins, "open", counting_open)
  monkeypatch.setattr(stored_weights, "decode", refuse)
  monkeypatch.setattr(model_file, "load", refuse)
  cached = saved_codec.open_codec(rgb_model_path)
  assert cached.compress(x) == data
  np.testing.assert_array_equal(cached.decompress(data),
                                codec.checked_decompress(
                                    cached._side("decompressor").decompress,  # pylint: disable=protected-access
                                    data, cached.fingerprint, cached.magic))
  assert len(opened) == 1


def test_decompress_parses_the_header_once(rgb_model_path, write_image,
                                           tmp_path, monkeypatch):
  monkeypatch.setenv("BLS2017_CACHE", str(tmp_path / "cache"))
  path, _ = write_image(18, 33)
  assert run_cli("compress", path, "--model_path", rgb_model_path) == 0
  calls, real_unpack = [], bitstream.unpack

  def counting_unpack(*args, **kwargs):
    calls.append(args[1:])
    return real_unpack(*args, **kwargs)

  monkeypatch.setattr(bitstream, "unpack", counting_unpack)
  assert run_cli("decompress", path + ".tfci", "--model_path",
                 rgb_model_path) == 0
  assert len(calls) == 1

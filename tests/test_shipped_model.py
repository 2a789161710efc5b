"""The shipped model: golden bitstream and image hashes, demo, listing.

If the model, the bitstream format or the numerics of encoding or decoding
change, the hashes change: update them only on purpose.
"""

import hashlib
import os
import re

import numpy as np
import pytest
from PIL import Image

from bls2017.core import bitstream, codec, images
from bls2017.paper.architecture import STRIDE
from bls2017 import zoo
from synthetic import integer_image
from cli_helpers import run_cli, run_subprocess

GOLDEN_INPUT = (80, 112)  # height, width: not multiples of 16 on purpose.
# integer_image(*GOLDEN_INPUT) compressed by the default model, committed.
GOLDEN_FILE = os.path.join(os.path.dirname(__file__), "data",
                           "golden-bls2017-mse-4.tfci")
GOLDEN_BITSTREAM_SHA256 = (
    "b86806b040dbc0ca33cbe7ddc68e6e3dfb62dcf60b92056cb5d68b3426f64836")
# The decoded latents y_hat (float32: integers plus the stored offsets).
GOLDEN_LATENTS_SHA256 = (
    "585780b80a0aa7cc0594bcc3fd0e4c6f2f1796f0d1f1d1246e7b0606312a3dc4")
GOLDEN_DECODED_SHA256 = (
    "a1694ca4afa8a38ac1877bc6164895a1878911f8de348c2dff733cfa410da66c")


def _sha256(data):
  return hashlib.sha256(data).hexdigest()


def _latents(shipped, data):
  """y_hat of a bitstream, range-decoded with the model's own tables."""
  import tensorflow as tf
  header, payload = bitstream.unpack(data, shipped.fingerprint,
                                     shipped.magic)
  shape = (images.latent_side(header.height, STRIDE),
           images.latent_side(header.width, STRIDE))
  return np.asarray(shipped.decompressor.decoder.coder.decode(
      tf.constant(payload), shape))


def test_golden_file_decodes_to_its_latents_and_pixels():
  """Decoding is exact on every CPU: the range decoder and the stored
  tables give the same latents, and g_s the same pixels."""
  shipped = codec.load(zoo.DEFAULT)
  with open(GOLDEN_FILE, "rb") as f:
    data = f.read()
  assert _sha256(data) == GOLDEN_BITSTREAM_SHA256
  assert _sha256(_latents(shipped, data).tobytes()) == GOLDEN_LATENTS_SHA256
  x_hat = shipped.decompress(data)
  assert x_hat.shape == GOLDEN_INPUT + (3,)
  assert _sha256(x_hat.tobytes()) == GOLDEN_DECODED_SHA256


def test_encoding_gives_the_golden_latents():
  """Encoding is not promised bit-exact across CPUs (BUILD_NOTES): g_a's
  float output can round a latent near a half the other way. So the
  latents it writes may differ from the golden file's in a few places by
  one step; where they are all equal, so are the bytes."""
  shipped = codec.load(zoo.DEFAULT)
  data = shipped.compress(integer_image(*GOLDEN_INPUT))
  with open(GOLDEN_FILE, "rb") as f:
    golden = f.read()
  ours, theirs = _latents(shipped, data), _latents(shipped, golden)
  differ = ours != theirs
  assert np.mean(differ) <= 1e-3
  assert np.all(np.abs(ours - theirs)[differ] <= 1.0 + 1e-6)
  if not differ.any():
    assert data == golden


@pytest.mark.slow
def test_decompress_finds_the_shipped_model_by_fingerprint(tmp_path,
                                                           write_image):
  path, x = write_image(40, 72)
  assert run_cli("compress", path) == 0
  assert run_cli("decompress", path + ".tfci") == 0
  np.testing.assert_array_equal(
      images.read(path + ".tfci.png"),
      codec.load(zoo.DEFAULT).decompress(open(path + ".tfci", "rb").read()))


@pytest.mark.slow
def test_demo_runs_offline_on_the_sample_photo(tmp_path):
  result = run_subprocess("demo", "--output_dir", tmp_path)
  assert result.returncode == 0, result.stderr
  assert "bls2017" in result.stdout and "JPEG q=" in result.stdout
  for suffix in (".tfci", ".tfci.png", ".jpeg.jpg", ".crops.png"):
    assert os.path.getsize(tmp_path / ("grace_hopper.jpg" + suffix)) > 1000
  # The JPEG is matched to the .tfci's size: the largest quality whose file
  # is not larger.
  budget = os.path.getsize(tmp_path / "grace_hopper.jpg.tfci")
  assert os.path.getsize(tmp_path / "grace_hopper.jpg.jpeg.jpg") <= budget
  quality = int(re.search(r"JPEG q=(\d+)", result.stdout).group(1))
  from bls2017.core import baselines
  photo = images.read(images.sample_photo())
  assert len(baselines.encode("jpeg", photo, quality)) <= budget
  assert len(baselines.encode("jpeg", photo, quality + 1)) > budget
  with Image.open(tmp_path / "grace_hopper.jpg.crops.png") as crops:
    assert crops.width > 2 * crops.height  # Three panels side by side.

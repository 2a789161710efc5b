"""Odd input images: each is converted as documented or refused clearly."""

import os
import signal
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from bls2017.core import codec, images
from helpers.commands import ROOT
from helpers.synthetic import synthetic_image


def _save(tmp_path, name, image, **options):
  path = tmp_path / name
  image.save(path, **options)
  return str(path)


def test_conversions(tmp_path):
  rgb = synthetic_image(15, 17)
  cases = {
      "rgba.png": (Image.fromarray(rgb).convert("RGBA"), rgb),
      "palette.png": (Image.fromarray(rgb).convert("P"), None),
      "gray.png": (Image.fromarray(rgb[..., 0]), np.repeat(rgb[..., :1], 3,
                                                           axis=2)),
      "cmyk.jpg": (Image.fromarray(rgb).convert("CMYK"), None),
  }
  for name, (image, expected) in cases.items():
    path = _save(tmp_path, name, image)
    array = images.read(path, 3)
    assert array.shape == (15, 17, 3) and array.dtype == np.uint8, name
    if expected is None:  # Lossy on the way in: what Pillow reads as RGB.
      with Image.open(path) as saved:
        expected = np.asarray(saved.convert("RGB"))
    np.testing.assert_array_equal(array, expected, err_msg=name)


def test_16_bit_png_keeps_the_high_byte(tmp_path):
  wide = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 97)
  image = Image.fromarray(wide)
  assert image.mode.startswith("I;16")
  path = _save(tmp_path, "deep.png", image)
  array = images.read(path, 1)
  np.testing.assert_array_equal(array[..., 0], (wide >> 8).astype(np.uint8))


def test_rgb_to_grayscale_model_is_luma(tmp_path):
  rgb = synthetic_image(9, 11)
  path = _save(tmp_path, "rgb.png", Image.fromarray(rgb))
  np.testing.assert_array_equal(images.read(path, 1)[..., 0],
                                np.asarray(Image.fromarray(rgb).convert("L")))


def test_tiny_images_round_trip(rgb_model_path, tmp_path):
  c = codec.load(rgb_model_path)
  for height, width in ((1, 1), (15, 17), (1, 40)):
    path = _save(tmp_path, "tiny.png",
                 Image.fromarray(synthetic_image(height, width)))
    x = images.read(path, 3)
    assert c.decompress(c.compress(x)).shape == (height, width, 3)


def test_truncated_png(tmp_path):
  path = _save(tmp_path, "full.png", Image.fromarray(synthetic_image(64, 64)))
  data = open(path, "rb").read()
  truncated = tmp_path / "cut.png"
  truncated.write_bytes(data[:len(data) // 2])
  with pytest.raises(images.ImageError, match="not a readable image"):
    images.read(str(truncated))


def _png_chunk(kind, body):
  return (struct.pack(">I", len(body)) + kind + body +
          struct.pack(">I", zlib.crc32(kind + body)))


def test_header_claiming_huge_dimensions_is_refused_before_decoding(
    tmp_path):
  # A 100000 x 100000 PNG whose pixel data is tiny: a decompression bomb.
  header = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
  data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) +
          _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) +
          _png_chunk(b"IEND", b""))
  path = tmp_path / "bomb.png"
  path.write_bytes(data)
  with pytest.raises(images.ImageError, match="too large.*10000000000 pixels"):
    images.read(str(path))


def test_writing_into_a_missing_directory_names_that_directory(tmp_path):
  missing = tmp_path / "no" / "such"
  with pytest.raises(FileNotFoundError) as raised:
    images.write_png(missing / "x.png", np.zeros((2, 2, 3), np.uint8))
  assert raised.value.filename == str(missing)
  assert raised.value.strerror == "no such directory (writing x.png)"
  assert not (tmp_path / "no").exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
  path = tmp_path / "out.tfci"
  path.write_bytes(b"old")
  with pytest.raises(RuntimeError):
    with images.atomic_output(path) as f:
      f.write(b"half of the new")
      raise RuntimeError("interrupted")
  assert path.read_bytes() == b"old"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tfci"]


def test_a_killed_writer_leaves_the_old_file(tmp_path):
  """A process killed in the middle of a write (no cleanup runs) leaves the
  destination as it was; only its hidden temporary file remains."""
  path = tmp_path / "out.png"
  path.write_bytes(b"old")
  script = (
      "import sys, time\n"
      "from bls2017.core import images\n"
      f"with images.atomic_output({str(path)!r}) as f:\n"
      "  f.write(b'x' * 100000); f.flush()\n"
      "  print('writing', flush=True)\n"
      "  time.sleep(60)\n")
  env = dict(os.environ, PYTHONPATH=ROOT)
  process = subprocess.Popen([sys.executable, "-c", script], env=env,
                             stdout=subprocess.PIPE, text=True)
  assert process.stdout.readline() == "writing\n"
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert path.read_bytes() == b"old"
  leftovers = [p.name for p in tmp_path.iterdir() if p.name != "out.png"]
  assert len(leftovers) == 1 and leftovers[0].startswith(".out.png.")

"""Reading and writing image files, with the conversions the codec accepts.

Accepted: any image Pillow decodes (PNG, JPEG, ...). Conversions:
  * palette, RGBA/LA (alpha dropped), CMYK, 16-bit and other modes -> RGB or
    grayscale, whichever the model codes;
  * RGB given to a grayscale model -> luma (ITU-R 601, Pillow's "L");
  * grayscale given to an RGB model -> replicated to three channels.
Refused (ImageError): files Pillow cannot decode, truncated files, images
with more than MAX_PIXELS pixels (decompression bombs), zero-sized images.
"""

import json
import os
import tempfile
import warnings

import numpy as np
from PIL import Image

# The largest image the codec reads or decodes: 8K UHD (7680x4320) fits twice.
MAX_PIXELS = 1 << 26


def latent_side(side, stride):
  """Rows (or columns) of a transform's output for an image side padded to
  the transform's total `stride`: ceil(side / stride).

  Plain arithmetic: works on Python ints and on integer tensors of either
  framework.
  """
  return -(-side // stride)


class ImageError(ValueError):
  """An input image is unreadable or unsupported."""


def read(path, channels=3):
  """Returns the image at `path` as a uint8 array [H, W, channels]."""
  try:
    with warnings.catch_warnings():
      warnings.simplefilter("error", Image.DecompressionBombWarning)
      with Image.open(path) as image:
        width, height = image.size
        if width * height > MAX_PIXELS:
          raise ImageError(
              f"{path}: {width}x{height} exceeds the limit of {MAX_PIXELS} "
              "pixels.")
        image.load()
        array = _convert(image, channels)
  except ImageError:
    raise
  except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
    raise ImageError(f"{path}: image is too large ({e})") from None
  except FileNotFoundError:
    raise ImageError(f"{path}: no such file.") from None
  except IsADirectoryError:
    raise ImageError(f"{path}: is a directory, not an image.") from None
  except (OSError, SyntaxError, ValueError) as e:
    raise ImageError(f"{path}: not a readable image ({e}).") from None
  if array.size == 0:
    raise ImageError(f"{path}: image has no pixels.")
  return array


def channels_of(path):
  """1 if the image at `path` is grayscale (with or without alpha), else 3."""
  try:
    with Image.open(path) as image:
      return 1 if image.mode in _GRAY_MODES else 3
  except (OSError, SyntaxError, ValueError):
    return 3  # read() reports the problem.


_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def _convert(image, channels):
  """Converts a loaded PIL image to a uint8 array with `channels` channels."""
  if image.mode in ("I;16", "I;16B", "I;16L", "I"):
    # 16-bit: keep the 8 most significant bits rather than clipping at 255.
    array = np.asarray(image, np.uint32) >> 8
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L")
  if channels == 1:
    return np.asarray(image.convert("L"))[..., None]
  return np.asarray(image.convert("RGB"))


def sample_photo():
  """Path of a photograph that an installed dependency (matplotlib) ships."""
  import matplotlib.cbook  # pylint: disable=import-outside-toplevel
  return str(matplotlib.cbook.get_sample_data("grace_hopper.jpg",
                                              asfileobj=False))


def write_png(path, array):
  """Writes a uint8 [H, W, 1|3] array as PNG atomically."""
  array = np.asarray(array, np.uint8)
  image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
  with atomic_output(path) as f:
    image.save(f, format="PNG")


def write_json(path, content, **options):
  """Writes `content` as JSON (indented, a final newline) atomically;
  options go to json.dumps (e.g. sort_keys)."""
  with atomic_output(path) as f:
    f.write((json.dumps(content, indent=2, **options) + "\n").encode())


class atomic_output:
  """Context manager: a temporary file beside `path`, renamed on success.

  An interrupted or failing write never leaves a half-written `path`.
  """

  def __init__(self, path):
    self.path = os.fspath(path)

  def __enter__(self):
    directory = os.path.dirname(os.path.abspath(self.path))
    name = os.path.basename(self.path)
    try:
      fd, self.tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    except OSError as e:
      # Name the directory, not the hidden temporary file mkstemp tried.
      reason = ("no such directory" if isinstance(e, FileNotFoundError)
                else e.strerror)
      raise type(e)(e.errno, f"{reason} (writing {name})", directory) from None
    self.file = os.fdopen(fd, "wb")
    return self.file

  def __exit__(self, exc_type, exc, tb):
    self.file.close()
    if exc_type is None:
      # mkstemp creates mode 0600; give the file the usual umask mode.
      umask = os.umask(0)
      os.umask(umask)
      os.chmod(self.tmp, 0o666 & ~umask)
      os.replace(self.tmp, self.path)
    else:
      os.unlink(self.tmp)
    return False

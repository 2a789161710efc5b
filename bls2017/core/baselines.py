"""Classical codecs through Pillow, and matching them to a target size."""

import io

import numpy as np
from PIL import Image

# Pillow save arguments per codec; `quality` is what rate matching searches.
# JPEG 2000 uses the irreversible 9/7 wavelet with the colour transform on:
# Pillow's default (reversible 5/3) is several dB worse at these rates.
CODECS = {
    "jpeg": {"format": "JPEG", "subsampling": "4:2:0"},
    "webp": {"format": "WEBP", "method": 6},
    "avif": {"format": "AVIF", "speed": 6},
    "jpeg2000": {"format": "JPEG2000", "irreversible": True, "mct": 1,
                 "quality_mode": "dB"},
}
# The quality range searched per codec (JPEG 2000: target PSNR in dB).
QUALITY_RANGE = {"jpeg": (1, 95), "webp": (0, 100), "avif": (0, 100),
                 "jpeg2000": (15, 55)}
# Settings of the RD sweeps: from well below 0.1 bpp to above 1.5 bpp on
# photographs.
SWEEP = {"jpeg": (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90),
         "webp": (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90),
         "avif": (5, 15, 25, 35, 45, 55, 65, 75, 85),
         "jpeg2000": (22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42)}
DESCRIPTIONS = {
    "jpeg": "JPEG (Pillow/libjpeg, 4:2:0)",
    "webp": "WebP (Pillow/libwebp, method 6)",
    "avif": "AVIF (Pillow, speed 6)",
    "jpeg2000": "JPEG 2000 (Pillow/OpenJPEG, 9/7 wavelet, MCT)",
}


def encode(codec, x, quality):
  """Encodes uint8 image x [H, W, 1|3] with `codec` at `quality`; bytes."""
  image = Image.fromarray(x[..., 0] if x.shape[-1] == 1 else x)
  options = dict(CODECS[codec])
  if codec == "jpeg2000":
    options["quality_layers"] = [quality]
  else:
    options["quality"] = int(quality)
  if codec == "jpeg" and x.shape[-1] == 1:
    del options["subsampling"]
  buffer = io.BytesIO()
  image.save(buffer, **options)
  return buffer.getvalue()


def decode(data, channels):
  """Decodes bytes to a uint8 array [H, W, channels]."""
  with Image.open(io.BytesIO(data)) as image:
    image = image.convert("L" if channels == 1 else "RGB")
    array = np.asarray(image)
  return array[..., None] if channels == 1 else array


def match_size(codec, x, max_bytes, encodings=None):
  """(quality, bytes) of the largest encoding of x not above max_bytes.

  Binary search over integer qualities; sizes grow with quality. If even the
  lowest quality exceeds max_bytes, returns the lowest quality's encoding.
  encodings: {quality: bytes} of x already made (a quality sweep, earlier
  searches); it narrows the search to the qualities between the known
  sizes around max_bytes and gains every encoding the search makes, so
  matching the same image to several sizes encodes each quality once.
  """
  encodings = {} if encodings is None else encodings

  def encoded(quality):
    if quality not in encodings:
      encodings[quality] = encode(codec, x, quality)
    return encodings[quality]

  low, high = QUALITY_RANGE[codec]
  best = (low, encoded(low))
  for quality, data in sorted(encodings.items()):
    if not low <= quality <= high:
      continue
    if len(data) <= max_bytes:
      best, low = (quality, data), max(low, quality + 1)
    else:
      high = min(high, quality - 1)
      break
  while low <= high:
    middle = (low + high) // 2
    data = encoded(middle)
    if len(data) <= max_bytes:
      best, low = (middle, data), middle + 1
    else:
      high = middle - 1
  return best

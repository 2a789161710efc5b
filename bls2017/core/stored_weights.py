"""How a model file stores its weights: float16, float32, or int8 + scales.

    float16 / float32:  weight_<i>  the array in that precision
    int8_rdft:          weight_<i>  int8 q in [-127, 127]
                        scale_<i>   float16, one per channel pair (or
                                    row): w = q * scale, exact in float32
                                    (7 bits times 11 bits of mantissa)
    int8:               as int8_rdft, except for the kernels:
                        spatial_<r>_<m>, spatial_scale_<r>_<m>
                                    the kernel whose RDFT halves are
                                    weights r (real) and m (imaginary),
                                    as int8 spatial taps [in, out, kh, kw]
                                    with one float16 scale per channel pair

In int8 files only the large arrays -- the kernels, scaled per (input,
output) channel pair, and GDN's gamma, scaled per row -- are int8; biases,
GDN's beta and the prior's parameters (under MIN_INT8_SIZE elements, or of
another rank) stay float16, and so do the kernels that read or write the
image (IMAGE_CHANNELS or fewer channels on one side: g_a's first layer,
g_s's last). Those are a small share of the bytes but, at high rates, most
of what int8 costs in PSNR: rounding g_a's first kernel moves every latent
(`python -m bls2017.zoo.compaction` measures each format's cost).

In "int8" files kernels are stored as their kh x kw taps rather than as
the RDFT coefficients the layers train (`tfc.RDFTParameter`): 25 values per
5x5 kernel instead of 30 (the RDFT's real and imaginary halves carry
redundant values), and taps compress better, so a 192-filter model file is
about a fifth smaller. But the coefficients quantize more finely for their
bytes (a kernel's energy gathers in few of them): "int8_rdft" keeps them,
one scale per channel pair and half, as int8 files were written before,
for the models whose distortion is so small that the taps' rounding shows
(`python -m bls2017.zoo.compaction` measures both).

Reading: `decode` gives the float32 arrays the model's variables take (for
a spatial kernel, its RDFT, computed in float64); `exact` gives what was
stored, exactly (the taps, not their transform), and is what a model's
fingerprint is made from, so that it cannot depend on the FFT of the
machine that reads the file.

Plain NumPy: the JAX trainer reads model files with it too.
"""

import numpy as np

FORMATS = ("float16", "float32", "int8", "int8_rdft")
# Arrays smaller than this stay float16 in an int8 file: their scales would
# cost more than int8 saves, and they are the sensitive ones (biases, beta,
# the prior).
MIN_INT8_SIZE = 4096
# Kernels with this many channels or fewer on one side face the image
# (RGB or gray): they stay float16 in an int8 file.
IMAGE_CHANNELS = 3


def _scale_shape(array):
  """Shape of the scales of an array stored as int8, or None: float16."""
  if array.size < MIN_INT8_SIZE:
    return None
  if array.ndim == 4:  # [in, out, kh, kw // 2 + 1] (RDFT): per channel pair.
    if min(array.shape[:2]) <= IMAGE_CHANNELS:
      return None
    return array.shape[:2] + (1, 1)
  if array.ndim == 2:  # GDN gamma [C, C]: per row.
    return (array.shape[0], 1)
  return None


def encode(weights, dtype, kernels=None):
  """{npz name: array} for float32 `weights` stored as `dtype`.

  kernels: {index of a kernel's RDFT real half: (index of its imaginary
  half, kernel width)}; in an int8 file those kernels are stored as their
  spatial taps.
  """
  if dtype not in FORMATS:
    raise ValueError(f"Unknown weight format {dtype!r} (known: {FORMATS}).")
  weights = [np.asarray(w, np.float32) for w in weights]
  # Small kernels, and those facing the image, stay as they are: float16.
  kernels = {real: pair for real, pair in (kernels or {}).items()
             if _scale_shape(weights[real])} if dtype == "int8" else {}
  quantized = dtype in ("int8", "int8_rdft")
  stored = {}
  for real, (imag, width) in kernels.items():
    taps = rdft_to_taps(weights[real], weights[imag], width)
    q, scale = _quantize(taps, (taps.shape[0], taps.shape[1], 1, 1))
    stored[f"spatial_{real}_{imag}"] = q
    stored[f"spatial_scale_{real}_{imag}"] = scale
  in_kernels = set(kernels) | {imag for imag, _ in kernels.values()}
  for i, weight in enumerate(weights):
    if i in in_kernels:
      continue
    shape = _scale_shape(weight) if quantized else None
    if shape is None:
      stored[f"weight_{i}"] = weight.astype(
          np.float32 if dtype == "float32" else np.float16)
      continue
    stored[f"weight_{i}"], stored[f"scale_{i}"] = _quantize(weight, shape)
  return stored


def _quantize(weight, shape):
  """(int8 q, float16 scale of `shape`): max |weight| over each scale's
  elements maps to 127."""
  axes = tuple(a for a in range(weight.ndim) if shape[a] == 1)
  # Rounded to float16 before quantizing, so q * scale is what is read.
  scale = (np.max(np.abs(weight), axis=axes, keepdims=True) / 127).astype(
      np.float16)
  scale = np.where(scale > 0, scale, np.float16(1))
  q = np.clip(np.round(weight / scale.astype(np.float32)), -127, 127)
  return q.astype(np.int8), scale


def _norm(kh, kw):
  # tfc.RDFTParameter scales the RDFT by 1/sqrt(kh * kw).
  return np.sqrt(kh * kw)


def rdft_to_taps(real, imag, width):
  """Spatial taps [in, out, kh, width] of the kernel whose tfc.RDFTParameter
  halves are `real`, `imag` [in, out, kh, width // 2 + 1]: the kernel the
  layer computes (irfft2d, which ignores the coefficients a real kernel's
  RDFT cannot have), computed in float64."""
  kh = real.shape[2]
  rdft = real.astype(np.float64) + 1j * imag.astype(np.float64)
  return np.fft.irfft2(rdft * _norm(kh, width), s=(kh, width)).astype(
      np.float32)


def taps_to_rdft(taps):
  """(real, imag) float32 halves of tfc.RDFTParameter for spatial `taps`
  [in, out, kh, kw], computed in float64: coefficients that make the same
  kernel as those the taps were made from."""
  kh, kw = taps.shape[2:]
  rdft = np.fft.rfft2(taps.astype(np.float64)) / _norm(kh, kw)
  return rdft.real.astype(np.float32), rdft.imag.astype(np.float32)


def _spatial_entries(arrays):
  """{(r, m): float32 taps} of the spatial kernels stored in `arrays`."""
  found = {}
  for name in arrays:
    if name.startswith("spatial_") and not name.startswith("spatial_scale"):
      real, imag = (int(i) for i in name[len("spatial_"):].split("_"))
      found[real, imag] = np.asarray(arrays[name], np.float32) * np.asarray(
          arrays[f"spatial_scale_{real}_{imag}"], np.float32)
  return found


def _stored(arrays, i):
  weight = np.asarray(arrays[f"weight_{i}"])
  if f"scale_{i}" in arrays:
    weight = weight.astype(np.float32) * np.asarray(arrays[f"scale_{i}"],
                                                    np.float32)
  return weight.astype(np.float32)


def decode(arrays, count):
  """The `count` float32 weights stored in `arrays` (an npz's contents), as
  the model's variables take them."""
  weights = {}
  for (real, imag), taps in _spatial_entries(arrays).items():
    weights[real], weights[imag] = taps_to_rdft(taps)
  return [weights[i] if i in weights else _stored(arrays, i)
          for i in range(count)]


def exact(arrays, count):
  """What `arrays` store, exactly, in float32: as `decode`, except that a
  spatial kernel is its taps (at its real half's place; an empty array at
  its imaginary half's). Machine-independent: no FFT."""
  weights = {}
  for (real, imag), taps in _spatial_entries(arrays).items():
    weights[real], weights[imag] = taps, np.zeros((0,), np.float32)
  return [weights[i] if i in weights else _stored(arrays, i)
          for i in range(count)]


def is_weight_entry(name):
  """Whether an npz entry belongs to the weights (not config or tables)."""
  return name.startswith(("weight_", "scale_", "spatial_"))

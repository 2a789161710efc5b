"""How a model file stores its weights: float16, float32, or int8 + scales.

    float16 / float32:  weight_<i>  the array in that precision
    int8:               weight_<i>  int8 q in [-127, 127]
                        scale_<i>   float16, one per channel pair (or
                                    row): w = q * scale, exact in float32
                                    (7 bits times 11 bits of mantissa)

In an int8 file only the large arrays -- the kernels' RDFT coefficients,
scaled per (input, output) channel pair, and GDN's gamma, scaled per row
-- are int8; biases, GDN's beta and the prior's parameters (under
MIN_INT8_SIZE elements, or of another rank) stay float16. The expanded
float32 weights are what the model, its range-coding tables and its
fingerprint are made from, on every machine alike.

Plain NumPy: the JAX trainer reads model files with it too.
"""

import numpy as np

FORMATS = ("float16", "float32", "int8")
# Arrays smaller than this stay float16 in an int8 file: their scales would
# cost more than int8 saves, and they are the sensitive ones (biases, beta,
# the prior).
MIN_INT8_SIZE = 4096


def _scale_shape(array):
  """Shape of the scales of an array stored as int8, or None: float16."""
  if array.size < MIN_INT8_SIZE:
    return None
  if array.ndim == 4:  # RDFT [in, out, kh, kw // 2 + 1]: per channel pair.
    return array.shape[:2] + (1, 1)
  if array.ndim == 2:  # GDN gamma [C, C]: per row.
    return (array.shape[0], 1)
  return None


def encode(weights, dtype):
  """{npz name: array} for float32 `weights` stored as `dtype`."""
  if dtype not in FORMATS:
    raise ValueError(f"Unknown weight format {dtype!r} (known: {FORMATS}).")
  stored = {}
  for i, weight in enumerate(weights):
    weight = np.asarray(weight, np.float32)
    shape = _scale_shape(weight) if dtype == "int8" else None
    if shape is None:
      stored[f"weight_{i}"] = weight.astype(
          np.float32 if dtype == "float32" else np.float16)
      continue
    axes = tuple(a for a in range(weight.ndim) if shape[a] == 1)
    # Rounded to float16 before quantizing, so q * scale is what is read.
    scale = (np.max(np.abs(weight), axis=axes, keepdims=True) / 127).astype(
        np.float16)
    scale = np.where(scale > 0, scale, np.float16(1))
    stored[f"weight_{i}"] = np.clip(
        np.round(weight / scale.astype(np.float32)), -127, 127).astype(np.int8)
    stored[f"scale_{i}"] = scale
  return stored


def decode(arrays, count):
  """The `count` float32 weights stored in `arrays` (an npz's contents)."""
  weights = []
  for i in range(count):
    weight = np.asarray(arrays[f"weight_{i}"])
    if f"scale_{i}" in arrays:
      weight = weight.astype(np.float32) * np.asarray(arrays[f"scale_{i}"],
                                                      np.float32)
    weights.append(weight.astype(np.float32))
  return weights


def is_weight_entry(name):
  """Whether an npz entry belongs to the weights (not config or tables)."""
  return name.startswith(("weight_", "scale_"))

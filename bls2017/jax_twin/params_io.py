"""Model files <-> JAX parameters, in NumPy alone.

A model file (`bls2017.core.model_file`) is an .npz of `config` (JSON),
`weight_names`, `weight_<i>` and the range-coding tables. This module reads
its weights into a params dict and writes params back in the same layout
*without* tables: a weights file. The tables and the fingerprint come from
the TensorFlow side (`bls2017 finalize`), exactly as `bls2017 train` makes
them, so a JAX run yields a model file that every command accepts.

    model file --read--> (params, Architecture, lambda, metadata)
    params --write_weights--> NAME.weights.npz --bls2017 finalize--> NAME.npz
"""

import io
import json

import numpy as np

from bls2017.core import images, stored_weights
from bls2017.jax_twin import model

WEIGHTS_SUFFIX = ".weights.npz"


class ParamsError(ValueError):
  """A model or weights file cannot be read as bls2017 parameters."""


def read(path):
  """(params {name: float32 array}, Architecture, lambda, metadata)."""
  try:
    with np.load(path, allow_pickle=False) as archive:
      config = json.loads(str(archive["config"]))
      names = [str(n) for n in archive["weight_names"]]
      weights = stored_weights.decode(archive, len(names))
  except FileNotFoundError:
    raise ParamsError(f"{path}: no such model file.") from None
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise ParamsError(f"{path}: not a model file ({e}).") from None
  if config.get("system", "bls2017") != "bls2017":
    raise ParamsError(f"{path}: a {config['system']} model file, not a "
                      "bls2017 one.")
  arch = model.Architecture(int(config["num_filters"]),
                            int(config["channels"]),
                            config.get("gdn", "simplified"))
  layout = model.variables(arch)
  expected = [(model.keras_name(name), shape) for name, shape in layout]
  if [(n, w.shape) for n, w in zip(names, weights)] != expected:
    raise ParamsError(f"{path}: weights do not match a bls2017 model with "
                      f"{arch.num_filters} filters and {arch.channels} "
                      "channels.")
  params = {name: w for (name, _), w in zip(layout, weights)}
  return params, arch, float(config["lmbda"]), config.get("metadata", {})


def write_weights(path, params, arch, lmbda, metadata, dtype="float32"):
  """Writes params as a weights file (a model file without tables), the
  weights stored as `dtype` (stored_weights.FORMATS).

  Atomic: the file appears complete or not at all.
  """
  layout = model.variables(arch)
  names = [model.keras_name(n) for n, _ in layout]
  arrays = stored_weights.encode([params[name] for name, _ in layout],
                                 dtype, kernels=_kernels(names, layout))
  arrays["weight_names"] = np.array(names)
  config = {"lmbda": float(lmbda), "num_filters": arch.num_filters,
            "channels": arch.channels, "gdn": arch.gdn, "metadata": metadata}
  arrays["config"] = np.array(json.dumps(config, sort_keys=True))
  buffer = io.BytesIO()
  np.savez_compressed(buffer, **arrays)
  with images.atomic_output(path) as f:
    f.write(buffer.getvalue())


def _kernels(names, layout):
  """{index of a kernel's RDFT real half: (index of its imaginary half,
  width)}, as `stored_weights.encode` takes them: each real half follows
  its imaginary half, and the paper's kernels are square (width = height,
  axis 2 of the halves)."""
  return {i: (i - 1, shape[2]) for i, (name, (_, shape)) in enumerate(
      zip(names, layout)) if name.endswith("/kernel_real:0") and
          names[i - 1].endswith("/kernel_imag:0")}

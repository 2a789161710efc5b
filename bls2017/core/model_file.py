"""The compact model file: weights, configuration and range-coding tables.

A model file is a NumPy `.npz` archive holding
  * `config`: JSON with the model's constructor arguments, free-form
    metadata (training command, steps, measured figures) and `system`, the
    registered system whose model it is (`bls2017.core.systems`; absent in
    the paper's model files, which predate the other systems: the system
    declared with `unnamed_model_files` owns those);
  * `weight_names`, `weight_<i>` (and `scale_<i>`): the weights in the
    model's `coding_variables` order, stored as float16, float32 or int8
    with scales (`bls2017.core.stored_weights`);
  * the system's range-coding tables, e.g. the paper's `cdf`, `cdf_offset`,
    `quantization_offset` (`model.coding_tables()` builds them).

The tables are computed once, when the file is written, from the weights as
stored (after any float16 rounding). Loading never recomputes them, so the
coding tables cannot depend on the floating-point behaviour of the machine
that loads the model.
"""

import hashlib
import io
import json

import numpy as np

from bls2017.core import images, stored_weights, systems

class ModelFileError(ValueError):
  """A model file is missing, unreadable or inconsistent."""


def save(model, path, dtype="float16", metadata=None, make_tables=None):
  """Writes `model` to `path` atomically; returns the stored tables.

  dtype: how the weights are stored, one of stored_weights.FORMATS.
  make_tables(model) -> {name: array} builds the range-coding tables;
  default: `model.coding_tables()`.
  """
  variables = model.coding_variables
  arrays = stored_weights.encode([v.numpy() for v in variables], dtype,
                                 kernels=_rdft_kernels(model, variables))
  # Round the live model to the stored precision before building tables, so
  # the tables are those of the model that `load` rebuilds.
  _assign(variables, stored_weights.decode(arrays, len(variables)))
  tables = make_tables(model) if make_tables else model.coding_tables()
  config = dict(model.get_config(), metadata=metadata or {})
  if model.system != systems.of_model_config({}):
    config["system"] = model.system
  arrays["weight_names"] = np.array([v.name for v in variables])
  arrays["config"] = np.array(json.dumps(config, sort_keys=True))
  arrays.update(tables)
  buffer = io.BytesIO()
  np.savez_compressed(buffer, **arrays)
  with images.atomic_output(path) as f:
    f.write(buffer.getvalue())
  return tables


def _rdft_kernels(model, variables):
  """{index of a kernel's RDFT real half in `variables`: (index of its
  imaginary half, kernel width)} for the model's tfc.RDFTParameter
  kernels (`stored_weights.encode` stores them as taps in int8 files)."""
  import tensorflow_compression as tfc  # pylint: disable=import-outside-toplevel
  index = {id(v): i for i, v in enumerate(variables)}
  kernels = {}
  for module in model.submodules:
    parameter = getattr(module, "kernel_parameter", None)
    if (isinstance(parameter, tfc.RDFTParameter) and
        id(parameter.real) in index and id(parameter.imag) in index):
      kernels[index[id(parameter.real)]] = (index[id(parameter.imag)],
                                            int(parameter.shape[1]))
  return kernels


def system_of(path, content=None):
  """The system ("bls2017", "cae_admm", ...) whose model file `path` is.

  content: the file's bytes, if already read (then the file is not opened
  again; only its config is decompressed)."""
  return systems.of_model_config(config_of(path, content))


def config_of(path, content=None):
  """The config (constructor arguments, metadata) of model file `path`;
  content as for `system_of`."""
  try:
    source = path if content is None else io.BytesIO(content)
    with np.load(source, allow_pickle=False) as archive:
      return json.loads(str(archive["config"]))
  except FileNotFoundError:
    raise ModelFileError(f"{path}: no such model file.") from None
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise ModelFileError(f"{path}: not a model file ({e}).") from None


def identity(path):
  """(system name, channels, fingerprint) of a model file, from its arrays
  alone: no model is built and no TensorFlow is loaded."""
  try:
    with np.load(path, allow_pickle=False) as archive:
      arrays = {name: archive[name] for name in archive.files}
    config = json.loads(str(arrays["config"]))
    stored = stored_weights.exact(arrays, len(arrays["weight_names"]))
  except FileNotFoundError:
    raise ModelFileError(f"{path}: no such model file.") from None
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise ModelFileError(f"{path}: not a model file ({e}).") from None
  return (systems.of_model_config(config), int(config["channels"]),
          fingerprint(stored, _tables(arrays)))


def _tables(arrays):
  """The range-coding tables among a model file's arrays."""
  return {k: v for k, v in arrays.items()
          if k not in ("config", "weight_names")
          and not stored_weights.is_weight_entry(k)}


class LoadedModel:
  """A model read from a file: the Keras model, its tables and identity."""

  def __init__(self, model, tables, metadata, fingerprint):
    self.model = model
    self.tables = tables
    self.metadata = metadata
    self.fingerprint = fingerprint  # 4 bytes naming weights and tables.


def load(path, model_class=None, require_tables=True):
  """Reads a model file; raises ModelFileError if it is unusable.

  model_class: the Keras model the file must hold (its `system` must be the
  file's); default: the model class its system registered.
  require_tables=False also accepts a weights file: a model file without
  range-coding tables, as the JAX trainer writes them (see `finalize`).
  """
  if model_class is None:
    try:
      model_class = systems.by_name(system_of(path)).model_class()
    except systems.UnknownSystemError as e:
      raise ModelFileError(f"{path}: {e}") from None
  system = model_class.system
  try:
    with np.load(path, allow_pickle=False) as archive:
      arrays = {name: archive[name] for name in archive.files}
    config = json.loads(str(arrays["config"]))
    metadata = config.pop("metadata", {})
    stored_system = systems.of_model_config(config)
    config.pop("system", None)
    names = [str(n) for n in arrays["weight_names"]]
    weights = stored_weights.decode(arrays, len(names))
    stored = stored_weights.exact(arrays, len(names))
    tables = _tables(arrays)
    if stored_system != system:
      raise ModelFileError(
          f"{path}: a {stored_system} model file, not a {system} one.")
    model = model_class(**config)
  except FileNotFoundError:
    raise ModelFileError(f"{path}: no such model file.") from None
  except (OSError, KeyError, TypeError) as e:
    raise ModelFileError(f"{path}: not a {system} model file ({e}).") from None
  except ValueError as e:
    if isinstance(e, ModelFileError):
      raise
    raise ModelFileError(f"{path}: not a {system} model file ({e}).") from None
  variables = model.coding_variables
  if names != [v.name for v in variables] or any(
      v.shape != w.shape for v, w in zip(variables, weights)):
    raise ModelFileError(f"{path}: weights do not match the model structure.")
  if require_tables and not tables:
    raise ModelFileError(
        f"{path}: weights without range-coding tables (a JAX trainer "
        f"output); `bls2017 finalize {path}` makes it a model file.")
  _assign(variables, weights)
  return LoadedModel(model, tables, metadata, fingerprint(stored, tables))


def finalize(weights_path, model_path, dtype="float16"):
  """Writes the model file of a weights file: weights stored as `dtype`
  (float16 unless asked) and range-coding tables built from them, exactly
  as `bls2017 train` saves its models. Returns the loaded model file."""
  source = load(weights_path, require_tables=False)
  save(source.model, model_path, dtype=dtype, metadata=source.metadata)
  return load(model_path)


def _assign(variables, arrays):
  for variable, array in zip(variables, arrays):
    variable.assign(np.asarray(array, np.float32))


def fingerprint(weights, tables):
  """First 4 bytes of SHA-256 over the stored weights (`stored_weights.exact`)
  and the tables: the model's identity."""
  digest = hashlib.sha256()
  for array in list(weights) + [tables[k] for k in sorted(tables)]:
    digest.update(np.ascontiguousarray(array).tobytes())
  return digest.digest()[:4]

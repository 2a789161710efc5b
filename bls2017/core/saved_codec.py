"""The one way commands obtain a codec: a model file's Compressor and
Decompressor as cached SavedModels where they can, the Keras codec where
they must (training state, information content, export).

    open_codec(name or path)
      --catalog.resolve--> model file, read once: sha256 of its bytes and
        its system (config only) make the cache key
      --cache hit--> CACHE/<key>/codec.json (channels, fingerprint, limits,
        metadata: no weights decoded) --> SavedCodec; each side
        (compressor/, decompressor/) tf.saved_model.load-ed on first use
      --first use--> codec.load(path) --export--> a temporary folder
        --rename--> CACHE/<key> (a second process racing it keeps either)
    open_codec(..., keras=True), or the cache off --> codec.load(path)

The SavedModels are the codec's own Compressor and Decompressor (`export`),
so they write and read the same bytes (the export tests hold that). The
header is checked in Python before decoding and images are checked against
the codec's limits, as `codec.Codec` does, so errors are the same: both
implement `codec.CodecInterface`.

CACHE is $BLS2017_CACHE, else $XDG_CACHE_HOME/bls2017, else
~/.cache/bls2017; BLS2017_CACHE=off turns the cache off (commands then
build the Keras codec each time).
"""

import functools
import hashlib
import json
import os
import shutil
import tempfile

import tensorflow as tf
import tensorflow_compression  # pylint: disable=unused-import  (range coder ops)

from bls2017.core import catalog, codec, export, model_file, systems

ENVIRONMENT = "BLS2017_CACHE"
# Part of every key; raised when codec.json's fields change.
ENTRY_LAYOUT = 2


def _versions(system):
  """Part of every key: a new format version or TensorFlow exports anew."""
  return f"v{system.format_version}-tf{tf.__version__}-c{ENTRY_LAYOUT}"


def cache_dir():
  """The cache folder, or None when BLS2017_CACHE=off."""
  chosen = os.environ.get(ENVIRONMENT)
  if chosen == "off":
    return None
  if chosen:
    return chosen
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
      os.path.expanduser("~"), ".cache")
  return os.path.join(base, "bls2017")


def open_codec(name_or_path=None, keras=False):
  """The codec (`codec.CodecInterface`) of a model file or shipped model
  (None: the default model): the cached SavedModels, exported on first
  use; the Keras codec (`codec.load`) if `keras` or the cache is off."""
  path = catalog.resolve(name_or_path)
  directory = cache_dir()
  if keras or directory is None:
    return codec.load(path)
  try:
    with open(path, "rb") as f:
      content = f.read()
  except FileNotFoundError:
    raise model_file.ModelFileError(f"{path}: no such model file.") from None
  except OSError as e:
    raise model_file.ModelFileError(f"{path}: not a model file ({e}).") \
        from None
  try:
    system = systems.by_name(model_file.system_of(path, content))
  except systems.UnknownSystemError as e:
    raise model_file.ModelFileError(f"{path}: {e}") from None
  key = hashlib.sha256(content).hexdigest()[:24] + "-" + _versions(system)
  entry = os.path.join(directory, key)
  if not os.path.exists(os.path.join(entry, "codec.json")):
    _export(path, entry)
  return SavedCodec(entry, path, system)


def _export(path, entry):
  """Exports the codec of `path` into `entry` atomically."""
  keras_codec = codec.load(path)
  os.makedirs(os.path.dirname(entry), exist_ok=True)
  staging = tempfile.mkdtemp(dir=os.path.dirname(entry), prefix=".export.")
  try:
    export.export(keras_codec, staging)
    with open(os.path.join(staging, "codec.json"), "w") as f:
      json.dump({"model_file": os.path.basename(path),
                 "channels": keras_codec.channels,
                 "fingerprint": keras_codec.fingerprint.hex(),
                 "max_pixels": keras_codec.max_pixels,
                 "metadata": keras_codec.metadata}, f)
    os.replace(staging, entry)
  except OSError:
    # Another process finished the same entry first (a non-empty folder
    # cannot be replaced): use theirs.
    shutil.rmtree(staging, ignore_errors=True)
    if not os.path.exists(os.path.join(entry, "codec.json")):
      raise


class SavedCodec(codec.BaseCodec):
  """`codec.Codec`'s compress and decompress on the cached SavedModels,
  each side loaded on first use; information content from the Keras codec
  (built on first use: a SavedModel does not hold the prior's estimate)."""

  def __init__(self, entry, path, system):
    self.entry = entry
    self.path = path
    self.system = system
    with open(os.path.join(entry, "codec.json")) as f:
      record = json.load(f)
    self.channels = record["channels"]
    self.fingerprint = bytes.fromhex(record["fingerprint"])
    self.max_pixels = record["max_pixels"]
    self.metadata = record["metadata"]
    self._sides = {}

  def _side(self, name):
    if name not in self._sides:
      self._sides[name] = tf.saved_model.load(os.path.join(self.entry, name))
    return self._sides[name]

  def _compress_function(self):
    return self._side("compressor").compress

  def _decompress_function(self):
    return self._side("decompressor").decompress

  def information_content(self, x):
    return self._keras_codec.information_content(x)

  @functools.cached_property
  def _keras_codec(self):
    return codec.load(self.path)


class TargetRateError(ValueError):
  """No candidate model codes the image at or under the requested rate."""


def compress_to_target(x, target_bpp, names):
  """(name, codec, bitstream) of the highest-rate model fitting target_bpp.

  `names` are models in increasing order of rate (a catalog's ladder).
  Rate grows along the ladder on any image, so a binary search needs to
  open and run only about log2(len(names)) of them; every answer it
  returns is an actual bitstream of at most target_bpp.
  """
  max_bytes = int(target_bpp * x.shape[0] * x.shape[1] / 8)
  best, low, high = None, 0, len(names) - 1
  while low <= high:
    middle = (low + high) // 2
    candidate = open_codec(names[middle])
    data = candidate.compress(x)
    if len(data) <= max_bytes:
      best, low = (names[middle], candidate, data), middle + 1
    else:
      high = middle - 1
  if best is None:  # The search ended on names[0], which did not fit.
    bpp = 8 * len(data) / (x.shape[0] * x.shape[1])
    raise TargetRateError(
        f"--target_bpp {target_bpp:g} is below what the lowest-rate model, "
        f"{names[0]}, gives on this image ({bpp:.4f} bpp).")
  return best

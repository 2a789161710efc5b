"""The codec of a model file as cached SavedModels: what `compress` and
`decompress` use, so that a command loads no Keras model and traces nothing.

    model file --identity (numpy only)--> system, channels, fingerprint
               --sha256 of the file--> CACHE/<key>/{compressor, decompressor}
    first use:  codec.load(path) --export--> a temporary folder --rename-->
                CACHE/<key> (a second process racing it keeps either copy)
    later uses: tf.saved_model.load of the side the command needs

The SavedModels are the codec's own Compressor and Decompressor (`export`),
so they write and read the same bytes (the export tests hold that). The
header is checked in Python before decoding and images are checked against
the codec's limits, as `codec.Codec` does, so errors are the same.

CACHE is $BLS2017_CACHE, else $XDG_CACHE_HOME/bls2017, else
~/.cache/bls2017; BLS2017_CACHE=off turns the cache off (commands then
build the Keras codec each time).
"""

import hashlib
import json
import os
import shutil
import tempfile

import tensorflow as tf
import tensorflow_compression  # pylint: disable=unused-import  (range coder ops)

from bls2017.core import catalog, codec, export, model_file, systems

ENVIRONMENT = "BLS2017_CACHE"


def _versions(system):
  """Part of every key: a new format version or TensorFlow exports anew."""
  return f"v{system.format_version}-tf{tf.__version__}"


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


def open_codec(name_or_path):
  """A SavedCodec of a model file or shipped model, exported on first use;
  the Keras codec (`codec.load`) when the cache is off."""
  path = catalog.resolve(name_or_path)
  directory = cache_dir()
  if directory is None:
    return codec.load(path)
  system, channels, fingerprint = model_file.identity(path)
  try:
    system = systems.by_name(system)
  except systems.UnknownSystemError as e:
    raise model_file.ModelFileError(f"{path}: {e}") from None
  with open(path, "rb") as f:
    key = hashlib.sha256(f.read()).hexdigest()[:24] + "-" + _versions(system)
  entry = os.path.join(directory, key)
  if not os.path.exists(os.path.join(entry, "codec.json")):
    _export(path, entry)
  return SavedCodec(entry, channels, fingerprint, system.magic)


def _export(path, entry):
  """Exports the codec of `path` into `entry` atomically."""
  keras_codec = codec.load(path)
  os.makedirs(os.path.dirname(entry), exist_ok=True)
  staging = tempfile.mkdtemp(dir=os.path.dirname(entry), prefix=".export.")
  try:
    export.export(keras_codec, staging)
    with open(os.path.join(staging, "codec.json"), "w") as f:
      json.dump({"max_pixels": keras_codec.max_pixels,
                 "model_file": os.path.basename(path)}, f)
    os.replace(staging, entry)
  except OSError:
    # Another process finished the same entry first (a non-empty folder
    # cannot be replaced): use theirs.
    shutil.rmtree(staging, ignore_errors=True)
    if not os.path.exists(os.path.join(entry, "codec.json")):
      raise


class SavedCodec:
  """`codec.Codec`'s compress and decompress, on the cached SavedModels;
  each side is loaded on first use."""

  def __init__(self, entry, channels, fingerprint, magic):
    self.entry = entry
    self.channels = channels
    self.fingerprint = fingerprint
    self.magic = magic
    with open(os.path.join(entry, "codec.json")) as f:
      self.max_pixels = json.load(f)["max_pixels"]
    self._sides = {}

  def _side(self, name):
    if name not in self._sides:
      self._sides[name] = tf.saved_model.load(os.path.join(self.entry, name))
    return self._sides[name]

  def compress(self, x):
    """uint8 array [H, W, channels] -> bitstream bytes."""
    codec.check_image(x, self.channels, self.max_pixels)
    return self._side("compressor").compress(tf.constant(x)).numpy()

  def decompress(self, data):
    """Bitstream bytes -> uint8 array [H, W, channels]; errors as
    `codec.Codec.decompress`."""
    return codec.checked_decompress(self._side("decompressor").decompress,
                                    data, self.fingerprint, self.magic)

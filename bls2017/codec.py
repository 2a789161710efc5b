"""Compressor and Decompressor: the trained model as a real codec.

    Compressor:   x (uint8) --pad--> g_a --> y --round, range-code--> bitstream
    Decompressor: bitstream --range-decode--> y_hat --> g_s --crop--> x_hat

Both hold ONE `tfc.ContinuousBatchedEntropyModel(compression=True)` built
from the range-coding tables stored with the model, so encoder and decoder
code with identical tables.
"""

import importlib

import tensorflow as tf
import tensorflow_compression as tfc

from bls2017 import bitstream, images, model_file, zoo
from bls2017.model import STRIDE


def shared_entropy_model(tables, num_filters):
  """The entropy model both sides use, built from stored tables."""
  return tfc.ContinuousBatchedEntropyModel(
      prior_shape=(num_filters,), coding_rank=3, compression=True,
      cdf=tables["cdf"], cdf_offset=tables["cdf_offset"],
      quantization_offset=tables["quantization_offset"])


class Compressor(tf.keras.Model):
  """uint8 image [H, W, C] -> complete bitstream (scalar tf.string)."""

  def __init__(self, g_a, entropy_model, channels, fingerprint,
               stride=STRIDE, magic=bitstream.MAGIC):
    super().__init__(name="compressor")
    self.g_a = g_a
    self.entropy_model = entropy_model
    self.channels = channels
    self.fingerprint = fingerprint
    self.stride = stride
    self.magic = magic
    self.compress = tf.function(self._compress, input_signature=[
        tf.TensorSpec((None, None, channels), tf.uint8, name="image")])

  def call(self, x):
    return self.compress(x)

  def _compress(self, x):
    height, width = tf.shape(x)[0], tf.shape(x)[1]
    y = self.g_a(pad_to_stride(tf.cast(x, tf.float32), self.stride)[None])
    payload = self.entropy_model.compress(y)[0]
    return bitstream.tf_pack(self.channels, self.fingerprint, height, width,
                             payload, self.magic)


class Decompressor(tf.keras.Model):
  """Complete bitstream (scalar tf.string) -> uint8 image [H, W, C]."""

  def __init__(self, g_s, entropy_model, channels, fingerprint,
               stride=STRIDE, magic=bitstream.MAGIC):
    super().__init__(name="decompressor")
    self.g_s = g_s
    self.entropy_model = entropy_model
    self.channels = channels
    self.fingerprint = fingerprint
    self.stride = stride
    self.magic = magic
    self.decompress = tf.function(self._decompress, input_signature=[
        tf.TensorSpec((), tf.string, name="bitstream")])

  def call(self, data):
    return self.decompress(data)

  def _decompress(self, data):
    height, width, payload = bitstream.tf_unpack(
        data, self.channels, self.fingerprint, self.magic)
    latent_shape = (-(-height // self.stride), -(-width // self.stride))
    y_hat = self.entropy_model.decompress(payload[None], latent_shape)
    x_hat = self.g_s(y_hat)[0, :height, :width]
    return tf.saturate_cast(tf.round(x_hat), tf.uint8)


def make_codec(loaded):
  """(Compressor, Decompressor) for a `model_file.LoadedModel`."""
  model = loaded.model
  entropy_model = shared_entropy_model(loaded.tables, model.num_filters)
  return (
      Compressor(model.g_a, entropy_model, model.channels, loaded.fingerprint),
      Decompressor(model.g_s, entropy_model, model.channels,
                   loaded.fingerprint))


def pad_to_stride(x, stride=STRIDE):
  """Pads [H, W, C] by edge replication to multiples of `stride`.

  Replicating edges costs fewer bits than zeros; the decoder crops back.
  """
  height, width = tf.shape(x)[0], tf.shape(x)[1]
  rows = tf.minimum(tf.range(-(-height // stride) * stride), height - 1)
  cols = tf.minimum(tf.range(-(-width // stride) * stride), width - 1)
  return tf.gather(tf.gather(x, rows, axis=0), cols, axis=1)


class Codec:
  """A loaded model as a codec: numpy images in, bytes out, and back.

  `decompress` checks the header in Python first, so bad input raises a
  `bitstream.BitstreamError` subclass naming the problem. Subclasses for
  the related systems set `magic` and `method` and override `make_codec`
  and `information_content`.
  """

  magic = bitstream.MAGIC
  method = "bls2017"
  description = "Balle et al. 2017"

  def __init__(self, loaded):
    self.loaded = loaded
    self.model = loaded.model
    self.channels = loaded.model.channels
    self.fingerprint = loaded.fingerprint
    self.compressor, self.decompressor = self.make_codec(loaded)

  def make_codec(self, loaded):
    # For information_content: the prior's -log2 mass of the values the
    # codec actually codes (rounded with the stored offsets).
    self._estimator = self.model.entropy_model(
        compression=False,
        quantization_offset=loaded.tables["quantization_offset"])
    return make_codec(loaded)

  def compress(self, x):
    """uint8 array [H, W, channels] -> bitstream bytes."""
    if x.ndim != 3 or x.shape[-1] != self.channels or x.dtype != "uint8":
      raise ValueError(f"expected a uint8 image [H, W, {self.channels}], "
                       f"got {x.dtype} {x.shape}.")
    height, width = x.shape[:2]
    if max(height, width) > 65535 or height * width > images.MAX_PIXELS:
      raise images.ImageError(
          f"{width}x{height} is larger than the codec's limit (sides up to "
          f"65535, at most {images.MAX_PIXELS} pixels).")
    return self.compressor.compress(x).numpy()

  def information_content(self, x):
    """Bits the prior assigns to the quantized latents of x: -log2 P(y_hat).

    The real payload is a little longer (range coder termination, escape
    codes for values outside the tables); the ratio is the coding overhead.
    """
    y = self.model.g_a(pad_to_stride(tf.cast(x, tf.float32))[None])
    _, bits = self._estimator(y, training=False)
    return float(tf.reduce_sum(bits))

  def decompress(self, data):
    """Bitstream bytes -> uint8 array [H, W, channels].

    Raises a `bitstream.BitstreamError` subclass for any input that is not
    a bitstream of this model, including a payload that fails the range
    decoder's own check.
    """
    bitstream.unpack(data, self.fingerprint, self.magic)
    try:
      return self.decompressor.decompress(data).numpy()
    except tf.errors.InvalidArgumentError:
      raise bitstream.CorruptBitstreamError(
          "the payload does not decode (range decoder check failed)."
      ) from None


def load(name_or_path=None):
  """Codec for a model file path or a shipped model name (default model).

  A model file of a related system (`cae_admm`, `content_weighted`) gives
  that system's codec, so every command and the evaluation take any of
  them.
  """
  path = zoo.resolve(name_or_path)
  system = model_file.system_of(path)
  if system == "bls2017":
    return Codec(model_file.load(path))
  if system not in bitstream.SYSTEMS.values():
    raise model_file.ModelFileError(f"{path}: unknown system {system!r}.")
  return importlib.import_module(f"{system}.codec").load(path)


class TargetRateError(ValueError):
  """No candidate model codes the image at or under the requested rate."""


def compress_to_target(x, target_bpp, names):
  """(name, codec, bitstream) of the highest-rate model fitting target_bpp.

  `names` are models in increasing order of rate (a zoo ladder). Rate
  grows along the ladder on any image, so a binary search needs to load
  and run only about log2(len(names)) of them; every answer it returns is
  an actual bitstream of at most target_bpp.
  """
  max_bytes = int(target_bpp * x.shape[0] * x.shape[1] / 8)
  best, low, high = None, 0, len(names) - 1
  while low <= high:
    middle = (low + high) // 2
    candidate = load(names[middle])
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

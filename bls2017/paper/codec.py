"""The paper's codec: g_a and g_s around ONE range coder.

    encoder: padded x --g_a--> y --round, range-code--> payload
    decoder: payload --range-decode--> y_hat --g_s--> x_hat

Both hold the same `FactorizedCoder` (`bls2017.core.entropy.factorized`),
built from the range-coding tables stored with the model, so encoder and
decoder code with identical tables. The shared
`Compressor`/`Decompressor` (`bls2017.core.codec`) put the header around
the payload and crop the padding.
"""

import functools

import tensorflow as tf

from bls2017.core import codec, model_file
from bls2017.core.entropy import factorized
from bls2017.paper import SYSTEM
from bls2017.paper.architecture import STRIDE
from bls2017.paper.model import BLS2017Model


def make_codec(loaded, magic=SYSTEM.magic):
  """(Compressor, Decompressor) for a `model_file.LoadedModel`."""
  model = loaded.model
  coder = factorized.FactorizedCoder(loaded.tables, model.num_filters)
  return (codec.Compressor(codec.LatentEncoder(model.g_a, coder),
                           model.channels, loaded.fingerprint, STRIDE, magic),
          codec.Decompressor(codec.LatentDecoder(model.g_s, coder),
                             model.channels, loaded.fingerprint, STRIDE,
                             magic))


class Codec(codec.Codec):
  """A model file of the paper's model as a codec."""

  system = SYSTEM

  def make_codec(self, loaded):
    return make_codec(loaded, self.magic)

  def information_content(self, x):
    """Bits the prior assigns to the quantized latents of x: -log2 P(y_hat).

    The real payload is a little longer (range coder termination, escape
    codes for values outside the tables); the ratio is the coding overhead.
    """
    codec.check_image(x, self.channels, self.max_pixels)
    return float(self._bits(x))

  @functools.cached_property
  def _bits(self):
    # The prior's -log2 mass of the values the codec codes: rounded with the
    # stored offsets. A graph, as the codec's: eager g_a costs twice as much.
    estimator = self.model.entropy_model(
        compression=False,
        quantization_offset=self.loaded.tables["quantization_offset"])

    @tf.function(input_signature=[
        tf.TensorSpec((None, None, self.channels), tf.uint8)])
    def bits(x):
      y = self.model.g_a(codec.pad_to_stride(tf.cast(x, tf.float32),
                                             STRIDE)[None])
      return tf.reduce_sum(estimator(y, training=False)[1])

    return bits


def open_model_file(path):
  """The codec of a model file of the paper's model (`System.opener`);
  the class given, so the file's config is not read again to find it."""
  return Codec(model_file.load(path, BLS2017Model))

"""CAE-ADMM as a real codec: pruned integer latents, range-coded.

    Compressor:   x --pad--> g_a --> z --round, keep l largest--> z_hat
                  --range-code with the fitted factorized tables--> bitstream
    Decompressor: bitstream --range-decode--> z_hat --> g_s --crop--> x_hat

The bitstream is bls2017's (header with magic "CA", the model fingerprint
and the image size; payload the range-coded z_hat), so files name the
model that wrote them and corrupt files are refused the same way.
"""

import numpy as np
import tensorflow as tf

from bls2017.core import codec as shared_codec
from bls2017.core import model_file
from bls2017.core.entropy import empirical, factorized
from cae_admm import SYSTEM
from cae_admm.model import STRIDE, CAEADMMModel

MAGIC = SYSTEM.magic


class QuantizedEncoder(tf.keras.layers.Layer):
  """g_a followed by the codec's quantizer: x -> z_hat (integer-valued)."""

  def __init__(self, model):
    super().__init__(name="quantized_g_a")
    self.model = model

  def call(self, x):
    return self.model.quantize(self.model.g_a(x))


def fitted_tables(model, patches):
  """Factorized tables fitted to the integer latents of `patches`."""
  latents = [model.quantize(model.g_a(tf.cast(batch, tf.float32))).numpy()
             for batch in patches]
  return empirical.fit(np.concatenate(
      [batch.reshape(-1, batch.shape[-1]) for batch in latents]))


class Codec(shared_codec.Codec):
  """A loaded CAE-ADMM model file as a codec (see bls2017.core.codec.Codec)."""

  system = SYSTEM

  def make_codec(self, loaded):
    model = loaded.model
    coder = factorized.FactorizedCoder(loaded.tables, model.latent_channels)
    return (
        shared_codec.Compressor(
            shared_codec.LatentEncoder(QuantizedEncoder(model), coder),
            model.channels, loaded.fingerprint, STRIDE, MAGIC),
        shared_codec.Decompressor(
            shared_codec.LatentDecoder(model.g_s, coder),
            model.channels, loaded.fingerprint, STRIDE, MAGIC))

  def latents(self, x):
    """z_hat of a uint8 image [H, W, C], as the compressor codes it."""
    x = shared_codec.pad_to_stride(tf.cast(x, tf.float32), STRIDE)
    return self.compressor.encoder.g_a(x[None]).numpy()

  def information_content(self, x):
    """-log2 of the fitted tables' probability of z_hat."""
    return empirical.information_content(self.loaded.tables,
                                               self.latents(x))


def load(path):
  """Codec for a CAE-ADMM model file; raises model_file.ModelFileError."""
  return Codec(model_file.load(path, CAEADMMModel))

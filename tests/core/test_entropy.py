"""The entropy-model room: the latent coders take any `EntropyCoder`.

A second kind of entropy model is one module and a codec that hands it to
the latent coders. Here a small scale hyperprior (Ballé et al., "Variational
image compression with a scale hyperprior", ICLR 2018), written as a test
would write a new module of `bls2017.core.entropy`, codes the paper's
latents through the shared Compressor and Decompressor unchanged.
"""

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from bls2017.core import bitstream, codec
from bls2017.core.entropy import EntropyCoder, factorized
from bls2017.paper.architecture import STRIDE
from bls2017.paper.model import BLS2017Model
from helpers.synthetic import synthetic_image

NUM_SCALES = 32


class HyperpriorCoder(tf.Module):
  """z = h_a(|y|) under a factorized prior's stored tables; y under
  Gaussians whose scales h_s(z_hat) chooses. Payload: 2 bytes giving the
  length of z's string, z's string, y's string."""

  def __init__(self, latent_channels, hyper_channels=4):
    super().__init__(name="hyperprior_coder")
    self.h_a = tf.keras.layers.Conv2D(hyper_channels, 3, padding="same")
    self.h_s = tf.keras.layers.Conv2D(latent_channels, 3, padding="same",
                                      activation="sigmoid")
    prior = tfc.NoisyDeepFactorized(batch_shape=(hyper_channels,))
    self.z_coder = factorized.FactorizedCoder(factorized.coding_tables(
        prior.trainable_variables,
        lambda dtype: tfc.NoisyDeepFactorized(
            batch_shape=(hyper_channels,), dtype=dtype), hyper_channels),
        hyper_channels)
    self.y_model = tfc.LocationScaleIndexedEntropyModel(
        tfc.NoisyNormal, NUM_SCALES,
        lambda i: tf.exp(np.log(.11) + i * (np.log(256.) - np.log(.11)) /
                         (NUM_SCALES - 1)),
        coding_rank=3, compression=True)

  def _indexes(self, z_hat):
    return tf.round(self.h_s(z_hat) * (NUM_SCALES - 1))

  def encode(self, y):
    z = self.h_a(tf.abs(y))
    z_string = self.z_coder.encode(z)
    z_hat = self.z_coder.decode(z_string, tf.shape(z)[1:3])
    y_string = self.y_model.compress(y, self._indexes(z_hat))[0]
    length = tf.strings.length(z_string)
    return (bitstream.tf_bytes(tf.stack([length // 256, length % 256])) +
            z_string + y_string)

  def decode(self, payload, latent_shape):
    length = tf.cast(tf.io.decode_raw(tf.strings.substr(payload, 0, 2),
                                      tf.uint16, little_endian=False)[0],
                     tf.int32)
    z_string = tf.strings.substr(payload, 2, length)
    y_string = tf.strings.substr(payload, 2 + length, -1)
    z_hat = self.z_coder.decode(z_string, latent_shape)
    return self.y_model.decompress(y_string[None], self._indexes(z_hat))


def test_a_hyperprior_codes_through_the_shared_latent_coders():
  tf.keras.utils.set_random_seed(0)
  model = BLS2017Model(0.01, num_filters=8, channels=3)
  coder = HyperpriorCoder(8)
  fingerprint, magic = b"\0\0\0\1", b"BL"
  compressor = codec.Compressor(codec.LatentEncoder(model.g_a, coder), 3,
                                fingerprint, STRIDE, magic)
  decompressor = codec.Decompressor(codec.LatentDecoder(model.g_s, coder), 3,
                                    fingerprint, STRIDE, magic)
  x = synthetic_image(40, 56)
  data = compressor.compress(x)
  header, payload = bitstream.unpack(data.numpy(), fingerprint, magic)
  assert (header.height, header.width) == (40, 56)
  # The decoder gets back exactly the latents the encoder quantized ...
  y = model.g_a(codec.pad_to_stride(tf.cast(x, tf.float32), STRIDE)[None])
  y_hat = coder.decode(tf.constant(payload), tf.shape(y)[1:3])
  np.testing.assert_array_equal(y_hat, tf.round(y))
  # ... and the shared Decompressor the image they make.
  x_hat = decompressor.decompress(data).numpy()
  expected = tf.saturate_cast(tf.round(model.g_s(tf.round(y))[0, :40, :56]),
                              tf.uint8)
  np.testing.assert_array_equal(x_hat, expected)
  # The paper's own coder writes another payload for the same latents.
  paper_coder = factorized.FactorizedCoder(model.coding_tables(), 8)
  assert isinstance(coder, EntropyCoder)
  assert isinstance(paper_coder, EntropyCoder)
  paper = codec.Compressor(codec.LatentEncoder(model.g_a, paper_coder), 3,
                           fingerprint, STRIDE, magic)
  assert paper.compress(x).numpy()[16:] != payload

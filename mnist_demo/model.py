"""The MNIST compression model of the "learned data compression" tutorial.

    digit x --g_a--> y (latent_dims) --(+noise | round)--> y_hat --g_s--> x_hat
                                         |
                     prior: NoisyLogistic(0, exp(log_scale)) per latent

Compressor and Decompressor share ONE entropy model instance, so both code
with the same tables.
"""

import tensorflow as tf
import tensorflow_compression as tfc

from bls2017.core.lagrangian import LagrangianModel


def make_analysis_transform(latent_dims):
  """g_a: [B, 28, 28, 1] in 0..1 -> [B, latent_dims]."""
  return tf.keras.Sequential([
      tf.keras.layers.Conv2D(20, 5, strides=2, padding="same",
                             activation="leaky_relu", name="conv_1"),
      tf.keras.layers.Conv2D(50, 5, strides=2, padding="same",
                             activation="leaky_relu", name="conv_2"),
      tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(500, activation="leaky_relu", name="fc_1"),
      tf.keras.layers.Dense(latent_dims, name="fc_2"),
  ], name="g_a")


def make_synthesis_transform():
  """g_s: [B, latent_dims] -> [B, 28, 28, 1], nominally 0..1."""
  return tf.keras.Sequential([
      tf.keras.layers.Dense(500, activation="leaky_relu", name="fc_1"),
      tf.keras.layers.Dense(2450, activation="leaky_relu", name="fc_2"),
      tf.keras.layers.Reshape((7, 7, 50)),
      tf.keras.layers.Conv2DTranspose(20, 5, strides=2, padding="same",
                                      activation="leaky_relu", name="conv_1"),
      tf.keras.layers.Conv2DTranspose(1, 5, strides=2, padding="same",
                                      activation="leaky_relu", name="conv_2"),
  ], name="g_s")


class MNISTCompressionTrainer(LagrangianModel):
  """Both transforms and the prior; `call` returns (rate, distortion).

  rate: bits per digit, -log2 of the prior's mass of the noisy latents;
  distortion: mean absolute pixel error on the 0..1 scale.
  """

  rate_name = "rate"
  distortion_name = "distortion"

  def __init__(self, lmbda=2000., latent_dims=50):
    super().__init__(lmbda, name="mnist_trainer")
    self.latent_dims = int(latent_dims)
    self.g_a = make_analysis_transform(self.latent_dims)
    self.g_s = make_synthesis_transform()
    self.prior_log_scales = tf.Variable(tf.zeros((self.latent_dims,)),
                                        name="prior_log_scales")
    self.build((None, 28, 28, 1))

  @property
  def prior(self):
    """Per-latent logistic density convolved with unit-width uniform noise."""
    return tfc.NoisyLogistic(loc=0., scale=tf.exp(self.prior_log_scales))

  def call(self, x, training=False):
    x = tf.cast(x, self.compute_dtype) / 255.
    y = self.g_a(x)
    # The logistic's mode is 0, so rounding needs no offset.
    entropy_model = tfc.ContinuousBatchedEntropyModel(
        self.prior, coding_rank=1, compression=False, offset_heuristic=False)
    y_tilde, bits = entropy_model(y, training=training)
    x_tilde = self.g_s(y_tilde)
    return tf.reduce_mean(bits), tf.reduce_mean(tf.abs(x - x_tilde))


class MNISTCompressor(tf.keras.Model):
  """uint8 digits [B, 28, 28, 1] -> (bit strings [B], information bits [B])."""

  def __init__(self, g_a, entropy_model):
    super().__init__(name="mnist_compressor")
    self.g_a = g_a
    self.entropy_model = entropy_model

  @tf.function(input_signature=[
      tf.TensorSpec((None, 28, 28, 1), tf.uint8, name="digits")])
  def compress(self, x):
    y = self.g_a(tf.cast(x, tf.float32) / 255.)
    _, bits = self.entropy_model(y, training=False)
    return self.entropy_model.compress(y), bits

  def call(self, x):
    return self.compress(x)


class MNISTDecompressor(tf.keras.Model):
  """Bit strings [B] -> uint8 digits [B, 28, 28, 1]."""

  def __init__(self, g_s, entropy_model):
    super().__init__(name="mnist_decompressor")
    self.g_s = g_s
    self.entropy_model = entropy_model

  @tf.function(input_signature=[
      tf.TensorSpec((None,), tf.string, name="strings")])
  def decompress(self, strings):
    y_hat = self.entropy_model.decompress(strings, ())
    return tf.saturate_cast(tf.round(self.g_s(y_hat) * 255.), tf.uint8)

  def call(self, strings):
    return self.decompress(strings)


def make_mnist_codec(trainer, **kwargs):
  """(MNISTCompressor, MNISTDecompressor) sharing ONE entropy model.

  kwargs go to the entropy model; `decode_sanity_check=False` lets the
  decompressor decode arbitrary strings, i.e. act as a generator.
  """
  entropy_model = tfc.ContinuousBatchedEntropyModel(
      trainer.prior, coding_rank=1, compression=True, **kwargs)
  return (MNISTCompressor(trainer.g_a, entropy_model),
          MNISTDecompressor(trainer.g_s, entropy_model))

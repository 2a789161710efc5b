"""The transform coding model of Ballé, Laparra & Simoncelli (ICLR 2017).

J. Ballé, V. Laparra, E. P. Simoncelli: "End-to-end optimized image
compression", Int. Conf. on Learning Representations (ICLR), 2017.
https://arxiv.org/abs/1611.01704
"""

import tensorflow as tf
import tensorflow_compression as tfc

from bls2017.architecture import STRIDE  # pylint: disable=unused-import
from bls2017.lagrangian import LagrangianModel


def signal_conv(filters, kernel, stride, up, name, activation=None):
  """One stage of a transform: a SignalConv2D that resamples by `stride`."""
  resample = {"strides_up": stride} if up else {"strides_down": stride}
  return tfc.SignalConv2D(
      filters, (kernel, kernel), corr=not up, padding="same_zeros",
      use_bias=True, activation=activation, name=name, **resample)


class AnalysisTransform(tf.keras.Sequential):
  """g_a: image x (0..255, float) -> latents y, downsampled 16x.

  Three stages (paper, section 2): 9x9 stride 4, 5x5 stride 2, 5x5 stride 2;
  the first two are followed by GDN with tfc.GDN's default exponents
  (alpha = epsilon = 1),

      v_i = u_i / (beta_i + sum_j gamma_ji * |u_j|),

  where the paper (section 2) has u_j^2 under a square root.
  """

  def __init__(self, num_filters):
    super().__init__(name="g_a")
    self.add(tf.keras.layers.Rescaling(1 / 255))
    self.add(signal_conv(num_filters, 9, 4, False, "layer_0",
                   tfc.GDN(name="gdn_0")))
    self.add(signal_conv(num_filters, 5, 2, False, "layer_1",
                   tfc.GDN(name="gdn_1")))
    self.add(signal_conv(num_filters, 5, 2, False, "layer_2"))


class SynthesisTransform(tf.keras.Sequential):
  """g_s: quantized latents y_hat -> reconstruction x_hat (0..255, float).

  Mirrors g_a with upsampling convolutions and inverse GDN (one step of
  the fixed-point inversion, with the same exponents as g_a's GDN),

      w_i = v_i * (beta_i + sum_j gamma_ji * |v_j|).
  """

  def __init__(self, num_filters, channels):
    super().__init__(name="g_s")
    self.add(signal_conv(num_filters, 5, 2, True, "layer_0",
                         tfc.GDN(inverse=True, name="igdn_0")))
    self.add(signal_conv(num_filters, 5, 2, True, "layer_1",
                         tfc.GDN(inverse=True, name="igdn_1")))
    self.add(signal_conv(channels, 9, 4, True, "layer_2"))
    self.add(tf.keras.layers.Rescaling(255))


class BLS2017Model(LagrangianModel):
  """Training model: the rate-distortion Lagrangian R + lambda * D.

      x --g_a--> y --(+U(-.5,.5))--> y_tilde --g_s--> x_hat
                                        |
                             prior p(y_tilde): rate R

  Rounding is replaced by additive uniform noise while training so that the
  loss is differentiable; R = -log2 p(y_tilde) summed over latents, per pixel;
  D = mean squared error on the 0..255 scale, as in the paper.
  """

  rate_name = "bpp"
  distortion_name = "mse"

  def __init__(self, lmbda=0.01, num_filters=128, channels=3):
    super().__init__(lmbda, name="bls2017")
    self.num_filters = int(num_filters)
    self.channels = int(channels)
    self.g_a = AnalysisTransform(self.num_filters)
    self.g_s = SynthesisTransform(self.num_filters, self.channels)
    self.prior = tfc.NoisyDeepFactorized(batch_shape=(self.num_filters,))
    self.build((None, None, None, self.channels))

  def get_config(self):
    return {"lmbda": self.lmbda, "num_filters": self.num_filters,
            "channels": self.channels}

  @property
  def coding_variables(self):
    """The variables that define the codec: g_a, g_s and the prior."""
    return (self.g_a.weights + self.g_s.weights +
            list(self.prior.trainable_variables))

  def entropy_model(self, **kwargs):
    """The factorized entropy model of `y` under this model's prior."""
    return tfc.ContinuousBatchedEntropyModel(
        self.prior, coding_rank=3, **kwargs)

  def call(self, x, training=False):
    """Returns (bpp, mse) for a batch x of shape [B, H, W, C]."""
    x = tf.cast(x, self.compute_dtype)
    y = self.g_a(x)
    y_tilde, bits = self.entropy_model(
        compression=False, offset_heuristic=False)(y, training=training)
    x_hat = self.g_s(y_tilde)
    num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), bits.dtype)
    bpp = tf.reduce_sum(bits) / num_pixels
    mse = tf.reduce_mean(tf.math.squared_difference(x, x_hat))
    return bpp, mse

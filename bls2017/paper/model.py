"""The transform coding model of Ballé, Laparra & Simoncelli (ICLR 2017).

J. Ballé, V. Laparra, E. P. Simoncelli: "End-to-end optimized image
compression", Int. Conf. on Learning Representations (ICLR), 2017.
https://arxiv.org/abs/1611.01704
"""

import tensorflow as tf
import tensorflow_compression as tfc

from bls2017.core.entropy import factorized
from bls2017.core.lagrangian import LagrangianModel
from bls2017.core.layers import GDNTransform
from bls2017.paper import SYSTEM
from bls2017.paper.architecture import STRIDE  # pylint: disable=unused-import


class AnalysisTransform(GDNTransform):
  """g_a: image x (0..255, float) -> latents y, downsampled 16x.

  Three stages (paper, section 2): 9x9 stride 4, 5x5 stride 2, 5x5 stride 2;
  the first two are followed by GDN, in the paper's form (section 2)

      v_i = u_i / sqrt(beta_i + sum_j gamma_ji * u_j^2)      gdn="paper"

  or in the simplified form of tfc.GDN's default exponents (alpha =
  epsilon = 1), which the models trained before the option had:

      v_i = u_i / (beta_i + sum_j gamma_ji * |u_j|)          gdn="simplified"
  """

  def __init__(self, num_filters, gdn="simplified"):
    super().__init__("g_a", up=False, gdn_form=gdn, stages=(
        (num_filters, 9, 4, True), (num_filters, 5, 2, True),
        (num_filters, 5, 2, False)))


class SynthesisTransform(GDNTransform):
  """g_s: quantized latents y_hat -> reconstruction x_hat (0..255, float).

  Mirrors g_a with upsampling convolutions and inverse GDN (one step of
  the fixed-point inversion, with the same form as g_a's GDN),

      w_i = v_i * sqrt(beta_i + sum_j gamma_ji * v_j^2)      gdn="paper"
      w_i = v_i * (beta_i + sum_j gamma_ji * |v_j|)          gdn="simplified"
  """

  def __init__(self, num_filters, channels, gdn="simplified"):
    super().__init__("g_s", up=True, gdn_form=gdn, stages=(
        (num_filters, 5, 2, True), (num_filters, 5, 2, True),
        (channels, 9, 4, False)))


class BLS2017Model(LagrangianModel):
  """Training model: the rate-distortion Lagrangian R + lambda * D.

      x --g_a--> y --(+U(-.5,.5))--> y_tilde --g_s--> x_hat
                                        |
                             prior p(y_tilde): rate R

  Rounding is replaced by additive uniform noise while training so that the
  loss is differentiable; R = -log2 p(y_tilde) summed over latents, per pixel;
  D = mean squared error on the 0..255 scale, as in the paper.
  """

  system = SYSTEM.name
  rate_name = "bpp"
  distortion_name = "mse"

  def __init__(self, lmbda=0.01, num_filters=128, channels=3,
               gdn="simplified"):
    super().__init__(lmbda, name="bls2017")
    self.num_filters = int(num_filters)
    self.channels = int(channels)
    # Model files written before the option have no "gdn": simplified.
    self.gdn = gdn
    self.g_a = AnalysisTransform(self.num_filters, gdn)
    self.g_s = SynthesisTransform(self.num_filters, self.channels, gdn)
    self.prior = tfc.NoisyDeepFactorized(batch_shape=(self.num_filters,))
    self.build((None, None, None, self.channels))

  def get_config(self):
    return {"lmbda": self.lmbda, "num_filters": self.num_filters,
            "channels": self.channels, "gdn": self.gdn}

  @property
  def coding_variables(self):
    """The variables that define the codec: g_a, g_s and the prior."""
    return (self.g_a.weights + self.g_s.weights +
            list(self.prior.trainable_variables))

  def coding_tables(self):
    """The range-coding tables of the prior (`coding_tables`)."""
    return coding_tables(self)

  def entropy_model(self, **kwargs):
    """The factorized entropy model of `y` under this model's prior."""
    return tfc.ContinuousBatchedEntropyModel(
        self.prior, coding_rank=3, **kwargs)

  def call(self, x, training=False, noise=None):
    """Returns (bpp, mse) for a batch x of shape [B, H, W, C].

    noise: in training, the uniform noise U(-.5, .5) to add to y (y's
    shape, [B, H/16, W/16, num_filters]); None: the entropy model draws it.
    The campaign passes noise drawn from (seed, step), so that a resumed
    run repeats an uninterrupted one exactly.
    """
    x = tf.cast(x, self.compute_dtype)
    y = self.g_a(x)
    if training and noise is not None:
      y_tilde = y + noise
      # The entropy model's training rate (no Laplace tail mass, no
      # expected gradients), -log2 p(y_tilde), on the given noise.
      bits = tf.reduce_sum(self.prior.log_prob(y_tilde), axis=(1, 2, 3)) / (
          -tf.math.log(tf.constant(2, y_tilde.dtype)))
    else:
      y_tilde, bits = self.entropy_model(
          compression=False, offset_heuristic=False)(y, training=training)
    x_hat = self.g_s(y_tilde)
    num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), bits.dtype)
    bpp = tf.reduce_sum(bits) / num_pixels
    mse = tf.reduce_mean(tf.math.squared_difference(x, x_hat))
    return bpp, mse


def coding_tables(model):
  """The range-coding tables of `model`'s prior (`entropy.factorized`)."""
  return factorized.coding_tables(
      model.prior.trainable_variables,
      lambda dtype: tfc.NoisyDeepFactorized(
          batch_shape=(model.num_filters,), dtype=dtype), model.num_filters)

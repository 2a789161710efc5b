"""The compressive autoencoder of CAE-ADMM and its ADMM training model.

    x --g_a--> z --stochastic round--> z_tilde --g_s--> x_hat
                                          |
              ADMM: (rho/2)||z_tilde - Z + U||^2,  Z = Pi_l(z_tilde + U)

There is no entropy model in the loss: the rate is held down by the
cardinality constraint card(z_hat) <= l (a fraction `keep_fraction` of the
latents), enforced by ADMM while training and by the projection Pi_l when
coding. A factorized entropy model is fitted to the pruned integer latents
after training (see `codec`).
"""

import tensorflow as tf

from bls2017.core.lagrangian import LagrangianModel
from cae_admm import ADMM_MODES, SYSTEM, admm

# Total downsampling factor of the encoder (2 * 2 * 2).
STRIDE = 8
# Scales 1 - MS-SSIM to the size of the MSE (0..255 scale) near 30 dB, for
# the blended distortion.
MS_SSIM_SCALE = 2000.0
# MS-SSIM on 128x128 patches: the first four of the five default scales.
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363)


class ResidualBlock(tf.keras.layers.Layer):
  """x + conv(leaky_relu(conv(x))), 3x3 convolutions."""

  def __init__(self, filters, **kwargs):
    super().__init__(**kwargs)
    self.conv_0 = tf.keras.layers.Conv2D(filters, 3, padding="same",
                                         name="conv_0")
    self.conv_1 = tf.keras.layers.Conv2D(filters, 3, padding="same",
                                         name="conv_1")

  def call(self, x):
    return x + self.conv_1(tf.nn.leaky_relu(self.conv_0(x), 0.2))


class SubPixelConv(tf.keras.layers.Layer):
  """Upsampling by sub-pixel convolution (Shi et al., 2016): a 3x3
  convolution to filters * r^2 channels, rearranged into an r-times larger
  image by depth_to_space."""

  def __init__(self, filters, rate=2, **kwargs):
    super().__init__(**kwargs)
    self.rate = rate
    self.conv = tf.keras.layers.Conv2D(filters * rate**2, 3, padding="same",
                                       name="conv")

  def call(self, x):
    return tf.nn.depth_to_space(self.conv(x), self.rate)


def _leaky_relu(x):
  return tf.nn.leaky_relu(x, 0.2)


class Encoder(tf.keras.Sequential):
  """g_a: image x (0..255) -> latents z [H/8, W/8, latent_channels]."""

  def __init__(self, num_filters, latent_channels):
    super().__init__(name="g_a")
    self.add(tf.keras.layers.Rescaling(1 / 255, offset=-.5))
    self.add(tf.keras.layers.Conv2D(num_filters, 5, 2, padding="same",
                                    activation=_leaky_relu, name="conv_0"))
    self.add(tf.keras.layers.Conv2D(num_filters, 5, 2, padding="same",
                                    activation=_leaky_relu, name="conv_1"))
    self.add(ResidualBlock(num_filters, name="residual_0"))
    self.add(ResidualBlock(num_filters, name="residual_1"))
    self.add(tf.keras.layers.Conv2D(latent_channels, 5, 2, padding="same",
                                    name="conv_2"))


class Decoder(tf.keras.Sequential):
  """g_s: integer latents -> x_hat (0..255); mirrors g_a with sub-pixel
  convolutions in place of the strided ones."""

  def __init__(self, num_filters, channels):
    super().__init__(name="g_s")
    self.add(SubPixelConv(num_filters, name="subpixel_0"))
    self.add(tf.keras.layers.Activation(_leaky_relu))
    self.add(ResidualBlock(num_filters, name="residual_0"))
    self.add(ResidualBlock(num_filters, name="residual_1"))
    self.add(SubPixelConv(num_filters, name="subpixel_1"))
    self.add(tf.keras.layers.Activation(_leaky_relu))
    self.add(SubPixelConv(channels, name="subpixel_2"))
    self.add(tf.keras.layers.Rescaling(255, offset=127.5))


class CAEADMMModel(LagrangianModel):
  """Training model: distortion + (rho/2)||z_tilde - Z + U||^2 per pixel.

  pruning=False trains the same autoencoder without the ADMM term and codes
  every latent (the paper's ablation). With pruning, admm_mode isolates
  ADMM's part: "full" (the method), "no_dual" (U held at 0: the penalty
  (rho/2)||z_tilde - Pi(z_tilde)||^2 alone) or "off" (no ADMM term; coding
  still projects and masked retraining still runs). `admm_shape`
  ([B, H/8, W/8, C] of a training batch) creates the dual variable U; it is
  needed for training only and is not part of the model file.
  """

  system = SYSTEM.name
  # The ADMM penalty is a training term only; evaluation reports it as 0.
  term_names = ("loss", "admm_penalty", "distortion", "mse",
                "nonzero_fraction")

  def __init__(self, num_filters=64, latent_channels=32, channels=3,
               keep_fraction=0.1, rho=50.0, ms_ssim_weight=0.0, pruning=True,
               admm_every=100, retrain_from=None, admm_shape=None,
               admm_mode="full"):
    super().__init__(1.0, name="cae_admm")
    self.num_filters = int(num_filters)
    self.latent_channels = int(latent_channels)
    self.channels = int(channels)
    self.keep_fraction = float(keep_fraction)
    self.rho = float(rho)
    self.ms_ssim_weight = float(ms_ssim_weight)
    self.pruning = bool(pruning)
    self.admm_every = int(admm_every)
    self.retrain_from = retrain_from
    if admm_mode not in ADMM_MODES:
      raise ValueError(f"admm_mode {admm_mode!r}: not one of {ADMM_MODES}.")
    self.admm_mode = admm_mode
    self.g_a = Encoder(self.num_filters, self.latent_channels)
    self.g_s = Decoder(self.num_filters, self.channels)
    self.build((None, None, None, self.channels))
    self.dual = None
    if admm_shape is not None:
      self.dual = tf.Variable(tf.zeros(admm_shape), trainable=False,
                              name="admm_dual")

  def get_config(self):
    return {"num_filters": self.num_filters,
            "latent_channels": self.latent_channels,
            "channels": self.channels, "keep_fraction": self.keep_fraction,
            "rho": self.rho, "ms_ssim_weight": self.ms_ssim_weight,
            "pruning": self.pruning, "admm_every": self.admm_every,
            "retrain_from": self.retrain_from, "admm_mode": self.admm_mode}

  @property
  def coding_variables(self):
    return self.g_a.weights + self.g_s.weights

  def quantize(self, z):
    """z_hat: rounded latents, pruned to the kept fraction if pruning."""
    z_hat = tf.round(z)
    if self.pruning:
      keep = admm.keep_count(tf.shape(z)[1:], self.keep_fraction)
      z_hat = tf.round(admm.project_cardinality(z, keep))
    return z_hat

  def distortion(self, x, x_hat):
    """MSE (0..255 scale), blended with MS_SSIM_SCALE * (1 - MS-SSIM)."""
    mse = tf.reduce_mean(tf.math.squared_difference(x, x_hat))
    if not self.ms_ssim_weight:
      return mse, mse
    ms_ssim = tf.reduce_mean(tf.image.ssim_multiscale(
        x, tf.clip_by_value(x_hat, 0, 255), 255,
        power_factors=_MS_SSIM_WEIGHTS))
    weight = self.ms_ssim_weight
    return (1 - weight) * mse + weight * MS_SSIM_SCALE * (1 - ms_ssim), mse

  def call(self, x, training=False):
    """(fraction of non-zero coded latents, distortion) of a batch."""
    x = tf.cast(x, self.compute_dtype)
    z_hat = self.quantize(self.g_a(x))
    distortion, _ = self.distortion(x, self.g_s(z_hat))
    return _nonzero(z_hat), distortion

  def loss_terms(self, x, training=False):
    """The terms of the codec as it codes: pruned, rounded latents."""
    del training  # Evaluation only; training has its own step.
    x = tf.cast(x, self.compute_dtype)
    z_hat = self.quantize(self.g_a(x))
    distortion, mse = self.distortion(x, self.g_s(z_hat))
    return {"loss": distortion, "admm_penalty": tf.zeros(()),
            "distortion": distortion, "mse": mse,
            "nonzero_fraction": _nonzero(z_hat)}

  def train_step(self, x):
    x = tf.cast(x, self.compute_dtype)
    with tf.GradientTape() as tape:
      z_tilde = admm.stochastic_round(self.g_a(x))
      decoder_input = z_tilde
      penalty = tf.constant(0.0)
      if self.pruning:
        keep = admm.keep_count(tf.shape(z_tilde)[1:],
                               self.keep_fraction)
        # The Z-step is solved exactly on every batch; U follows every
        # `admm_every` steps.
        if self.admm_mode != "off":
          z_projected = tf.stop_gradient(
              admm.project_cardinality(z_tilde + self.dual, keep))
          num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)
          penalty = self.rho / 2 * tf.reduce_sum(
              tf.square(z_tilde - z_projected + self.dual)) / num_pixels
        if self.retrain_from is not None:
          # Masked retraining: the decoder sees the pruned latents, as it
          # will when coding; gradients reach the kept entries only.
          pruned = z_tilde * tf.cast(
              admm.project_cardinality(z_tilde, keep) != 0, z_tilde.dtype)
          retraining = self.optimizer.iterations >= self.retrain_from
          decoder_input = tf.where(retraining, pruned, z_tilde)
      distortion, mse = self.distortion(x, self.g_s(decoder_input))
      loss = penalty + distortion
    grads = tape.gradient(loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    if self.pruning and self.admm_mode == "full":
      step = self.optimizer.iterations
      tf.cond(step % self.admm_every == 0,
              lambda: self.dual.assign(admm.dual_update(
                  self.dual, z_tilde, z_projected)),
              lambda: self.dual)
    return self.track({"loss": loss, "admm_penalty": penalty,
                       "distortion": distortion, "mse": mse,
                       "nonzero_fraction": _nonzero(decoder_input)})


def _nonzero(z):
  return tf.reduce_mean(tf.cast(tf.not_equal(z, 0), tf.float32))

"""The compressive autoencoder of CAE-ADMM and its ADMM training model.

    x[i] --g_a--> z --stochastic round--> z_tilde --g_s--> x_hat
                                             |
              ADMM: (rho/2)||z_tilde - Z[i] + U[i]||^2 on each step;
                    every K epochs, for every training crop i:
                    Z[i] <- Pi_l(z + U[i]),  U[i] <- U[i] + z - Z[i]

The distortion is the MSE, or a blend of it with 1 - MS-SSIM and 1 - SSIM
(`ms_ssim_weight`, `ssim_weight`); with `perceptual_from`, training uses the
MSE alone before that step and the blend after it (MSE, then perceptual).

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
# Scale 1 - MS-SSIM and 1 - SSIM to the size of the MSE (0..255 scale) near
# 30 dB, for the blended distortion: on training crops under noise and blur
# at that MSE the ratios are ~3,000-5,000 and ~300-1,200.
MS_SSIM_SCALE = 2000.0
SSIM_SCALE = 500.0
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
  """Training model: distortion + (rho/2)||z_tilde - Z[i] + U[i]||^2 per pixel.

  pruning=False trains the same autoencoder without the ADMM term and codes
  every latent (the paper's ablation). With pruning, admm_mode isolates
  ADMM's part: "full" (the method), "no_dual" (U held at 0: the penalty
  (rho/2)||z_tilde - Z[i]||^2 with Z[i] = Pi_l(z) on the same schedule) or
  "off" (no ADMM term; coding still projects and masked retraining still
  runs).

  The ADMM variables belong to the training examples: `admm_shape`
  ([N, H/8, W/8, C], the latents of a fixed set of N training crops) creates
  Z and U, one slice per crop, and training batches are (crop indices,
  crops). `admm_update` runs the Z- and U-steps (`train.ADMMSchedule` calls
  it every `admm_every_epochs` epochs over all crops). Z and U are needed
  for training only and are not part of the model file.
  """

  system = SYSTEM.name
  # The ADMM penalty is a training term only; evaluation reports it as 0.
  term_names = ("loss", "admm_penalty", "distortion", "mse",
                "nonzero_fraction")

  def __init__(self, num_filters=64, latent_channels=32, channels=3,
               keep_fraction=0.1, rho=50.0, ms_ssim_weight=0.0, pruning=True,
               admm_every_epochs=1, retrain_from=None, admm_shape=None,
               admm_mode="full", ssim_weight=0.0, perceptual_from=None):
    super().__init__(1.0, name="cae_admm")
    self.num_filters = int(num_filters)
    self.latent_channels = int(latent_channels)
    self.channels = int(channels)
    self.keep_fraction = float(keep_fraction)
    self.rho = float(rho)
    self.ms_ssim_weight = float(ms_ssim_weight)
    self.ssim_weight = float(ssim_weight)
    weights = (self.ms_ssim_weight, self.ssim_weight)
    if min(weights) < 0 or sum(weights) > 1:
      raise ValueError(f"ms_ssim_weight {self.ms_ssim_weight} and ssim_weight"
                       f" {self.ssim_weight}: each must be >= 0 and their "
                       "sum <= 1.")
    self.perceptual_from = perceptual_from
    self.pruning = bool(pruning)
    self.admm_every_epochs = int(admm_every_epochs)
    self.retrain_from = retrain_from
    if admm_mode not in ADMM_MODES:
      raise ValueError(f"admm_mode {admm_mode!r}: not one of {ADMM_MODES}.")
    self.admm_mode = admm_mode
    self.g_a = Encoder(self.num_filters, self.latent_channels)
    self.g_s = Decoder(self.num_filters, self.channels)
    self.build((None, None, None, self.channels))
    self.admm_z = self.dual = None
    if admm_shape is not None:
      self.admm_z = tf.Variable(tf.zeros(admm_shape), trainable=False,
                                name="admm_z")
      self.dual = tf.Variable(tf.zeros(admm_shape), trainable=False,
                              name="admm_dual")

  def get_config(self):
    return {"num_filters": self.num_filters,
            "latent_channels": self.latent_channels,
            "channels": self.channels, "keep_fraction": self.keep_fraction,
            "rho": self.rho, "ms_ssim_weight": self.ms_ssim_weight,
            "pruning": self.pruning,
            "admm_every_epochs": self.admm_every_epochs,
            "retrain_from": self.retrain_from, "admm_mode": self.admm_mode,
            "ssim_weight": self.ssim_weight,
            "perceptual_from": self.perceptual_from}

  @property
  def coding_variables(self):
    return self.g_a.weights + self.g_s.weights

  def quantize(self, z):
    """z_hat: rounded latents, pruned to the kept fraction if pruning."""
    z_hat = tf.round(z)
    if self.pruning:
      z_hat = tf.round(admm.project_cardinality(z, self.keep(z)))
    return z_hat

  @property
  def perceptual(self):
    return bool(self.ms_ssim_weight or self.ssim_weight)

  def distortion(self, x, x_hat):
    """(distortion, MSE): the MSE (0..255 scale) blended as
    (1 - a - b) MSE + a MS_SSIM_SCALE (1 - MS-SSIM) + b SSIM_SCALE (1 - SSIM),
    a = ms_ssim_weight, b = ssim_weight."""
    mse = tf.reduce_mean(tf.math.squared_difference(x, x_hat))
    if not self.perceptual:
      return mse, mse
    x_hat = tf.clip_by_value(x_hat, 0, 255)
    a, b = self.ms_ssim_weight, self.ssim_weight
    blend = (1 - a - b) * mse
    if a:
      blend += a * MS_SSIM_SCALE * (1 - tf.reduce_mean(
          tf.image.ssim_multiscale(x, x_hat, 255,
                                   power_factors=_MS_SSIM_WEIGHTS)))
    if b:
      blend += b * SSIM_SCALE * (1 - tf.reduce_mean(tf.image.ssim(x, x_hat,
                                                                  255)))
    return blend, mse

  def training_distortion(self, x, x_hat):
    """`distortion`, but the MSE alone before step perceptual_from."""
    if not self.perceptual or self.perceptual_from is None:
      return self.distortion(x, x_hat)
    mse = tf.reduce_mean(tf.math.squared_difference(x, x_hat))
    return tf.cond(self.optimizer.iterations >= self.perceptual_from,
                   lambda: self.distortion(x, x_hat), lambda: (mse, mse))

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

  @property
  def trains_admm(self):
    """Whether training has an ADMM term (and so Z and U per crop)."""
    return self.pruning and self.admm_mode != "off"

  def keep(self, z):
    """l for latents z [B, H, W, C]: how many of each example's stay."""
    return admm.keep_count(tf.shape(z)[1:], self.keep_fraction)

  def admm_update(self, indices, x, update_dual=True):
    """The Z- and U-steps for the training crops `indices`, images x.

    Z[i] <- Pi_l(z + U[i]) and, in "full" mode with update_dual, U[i] <-
    U[i] + z - Z[i], where z = g_a(x) is the expectation of the
    stochastically rounded latents the loss sees. update_dual=False is the
    start of ADMM: Z = Pi_l(z), U = 0.
    """
    z = self.g_a(tf.cast(x, self.compute_dtype))
    dual = tf.gather(self.dual, indices)
    z_projected = admm.project_cardinality(z + dual, self.keep(z))
    rows = tf.cast(indices, tf.int32)[:, None]
    self.admm_z.scatter_nd_update(rows, z_projected)
    if update_dual and self.admm_mode == "full":
      self.dual.scatter_nd_update(
          rows, admm.dual_update(dual, z, z_projected))

  def train_step(self, data):
    """One SGD step on a batch x, or (crop indices, x) when training has
    an ADMM term (its Z and U are those of the crops)."""
    indices, x = data if isinstance(data, tuple) else (None, data)
    x = tf.cast(x, self.compute_dtype)
    with tf.GradientTape() as tape:
      z_tilde = admm.stochastic_round(self.g_a(x))
      decoder_input = z_tilde
      penalty = tf.constant(0.0)
      if self.trains_admm:
        target = tf.gather(self.admm_z, indices) - tf.gather(self.dual,
                                                             indices)
        num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)
        penalty = self.rho / 2 * tf.reduce_sum(
            tf.square(z_tilde - target)) / num_pixels
      if self.pruning and self.retrain_from is not None:
        # Masked retraining: the decoder sees the pruned latents, as it
        # will when coding; gradients reach the kept entries only.
        pruned = z_tilde * tf.cast(
            admm.project_cardinality(z_tilde, self.keep(z_tilde)) != 0,
            z_tilde.dtype)
        retraining = self.optimizer.iterations >= self.retrain_from
        decoder_input = tf.where(retraining, pruned, z_tilde)
      distortion, mse = self.training_distortion(x,
                                                 self.g_s(decoder_input))
      loss = penalty + distortion
    grads = tape.gradient(loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    return self.track({"loss": loss, "admm_penalty": penalty,
                       "distortion": distortion, "mse": mse,
                       "nonzero_fraction": _nonzero(decoder_input)})


def _nonzero(z):
  return tf.reduce_mean(tf.cast(tf.not_equal(z, 0), tf.float32))

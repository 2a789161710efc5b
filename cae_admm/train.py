"""`cae_admm train`: the model it trains on the one training outline
(`bls2017.core.training.train`) -- distortion under the ADMM pruning
schedule, then factorized tables fitted to the pruned integer latents. Its
`Config` is in `cae_admm.config`.

The data is a fixed set of training crops, so that with an ADMM term
(`--admm full` or `no_dual`) each keeps its own ADMM variables Z[i] and
U[i]:

    training images --steps_per_epoch batches, drawn once (flips included)-->
    crops [N = steps_per_epoch * batchsize, P, P, C]
    --each epoch, in a new random order--> batches (indices i, crops[i])
    ADMMSchedule: Z = Pi_l(g_a(crops)) before the first step; every
    `admm_every_epochs` epochs the Z- and U-steps over all N crops.

An epoch is then one pass over the crops, as in the description's schedule.
Models without ADMM variables (`--admm off`, `--nopruning`) train on the
same crops in the same order, so an ablation of the modes compares them on
the same data; the model file records this as its "sampling".
"""

# What every model file records of its data (the ablations compare it).
SAMPLING = "fixed crop set, cycled"


import numpy as np
import tensorflow as tf

from bls2017.core import training
from cae_admm import codec, model as model_lib


class ADMMSchedule(tf.keras.callbacks.Callback):
  """Runs the model's Z- and U-steps over the whole crop set (`crops`, set
  once drawn): Z only before the first training step, both after every
  `every` epochs."""

  def __init__(self, every, batchsize, crops=None):
    super().__init__()
    self.every, self.batchsize, self.crops = every, batchsize, crops
    self.step = None

  def on_train_begin(self, logs=None):
    # After a resumed run's restore (callbacks run in order; this one is
    # after BackupAndRestore), Z and U are the checkpoint's: keep them.
    if int(self.model.optimizer.iterations) == 0:
      self.update(update_dual=False)

  def on_epoch_end(self, epoch, logs=None):
    if (epoch + 1) % self.every == 0:
      self.update(update_dual=True)

  def update(self, update_dual):
    if self.step is None:  # Traced once per value of update_dual.
      self.step = tf.function(self.model.admm_update)
    for start in range(0, len(self.crops), self.batchsize):
      indices = np.arange(start, min(start + self.batchsize,
                                     len(self.crops)))
      self.step(tf.constant(indices), tf.constant(self.crops[indices]),
                update_dual)


def crop_set(config):
  """The N = steps_per_epoch * batchsize training crops, uint8."""
  batches = training.build_dataset(config, config.seed).take(
      config.steps_per_epoch)
  return np.concatenate([batch.numpy() for batch in batches])


def crop_dataset(crops, batchsize, seed=None):
  """Endless batches (indices, crops[indices]); a new order every pass."""
  rng = np.random.default_rng(seed)
  spec = (tf.TensorSpec([batchsize], tf.int64),
          tf.TensorSpec([batchsize] + list(crops.shape[1:]), tf.uint8))

  def batches():
    while True:
      order = rng.permutation(len(crops))
      for start in range(0, len(order) - batchsize + 1, batchsize):
        indices = np.sort(order[start:start + batchsize])
        yield indices, crops[indices]

  return tf.data.Dataset.from_generator(
      batches, output_signature=spec).prefetch(tf.data.AUTOTUNE)


def make_model(config, admm_shape=None):
  """The model `config` describes; admm_shape: its crops' latents' shape."""
  def step_at(fraction):
    return round(fraction * config.total_steps)

  return model_lib.CAEADMMModel(
      num_filters=config.num_filters, latent_channels=config.latent_channels,
      channels=config.channels, keep_fraction=config.keep_fraction,
      rho=config.rho, ms_ssim_weight=config.ms_ssim_weight,
      ssim_weight=config.ssim_weight, pruning=config.pruning,
      admm_every_epochs=config.admm_every_epochs, admm_mode=config.admm,
      retrain_from=step_at(1 - config.retrain_fraction),
      perceptual_from=step_at(config.mse_fraction)
      if config.mse_fraction else None,
      admm_shape=admm_shape)


def train(config):
  """Trains per `config` (a `cae_admm.config.Config`); writes
  config.model_path; returns the model."""
  admm = config.pruning and config.admm != "off"
  schedule = (ADMMSchedule(config.admm_every_epochs, config.batchsize)
              if admm else None)

  def dataset(config):
    crops = crop_set(config)
    if schedule:
      schedule.crops = crops
    batches = crop_dataset(crops, config.batchsize, config.seed)
    # No ADMM variables: the same crops, without their indices.
    return batches if admm else batches.map(lambda indices, x: x)

  def images(batches):
    return batches.map(lambda indices, x: x) if admm else batches

  side = config.patchsize // model_lib.STRIDE
  admm_shape = ((config.steps_per_epoch * config.batchsize, side, side,
                 config.latent_channels) if admm else None)
  return training.train(
      config, lambda: make_model(config, admm_shape),
      build_tables=lambda model, batches: codec.fitted_tables(
          model, images(batches).take(16)),
      hooks=training.Hooks(dataset=dataset,
                           callbacks=[schedule] if schedule else [],
                           metadata={"sampling": SAMPLING}))

"""`cae_admm train`: its `Config`, and the model it trains on the shared
Keras loop (`bls2017.core.training`) -- distortion under the ADMM pruning
schedule, then factorized tables fitted to the pruned integer latents.

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

import dataclasses

import numpy as np
import tensorflow as tf

from bls2017.core import training
from bls2017.core.train_config import KerasTrainConfig
from cae_admm import codec, model as model_lib


@dataclasses.dataclass
class Config(KerasTrainConfig):
  """A `cae_admm train` run (the flags of the same names)."""
  model_path: str = "cae_admm.npz"
  patchsize: int = 128
  lr_schedule: str = "plateau"  # As described: halved on plateaus.
  flips: bool = True
  admm: str = "full"  # One of cae_admm.ADMM_MODES.
  keep_fraction: float = 0.1  # l as a fraction of the latents.
  rho: float = 50.0
  admm_every_epochs: int = 1
  retrain_fraction: float = 0.3
  pruning: bool = True
  ms_ssim_weight: float = 0.0
  ssim_weight: float = 0.0
  mse_fraction: float = 0.0  # First fraction of the steps on MSE alone.
  num_filters: int = 64
  latent_channels: int = 32


class ADMMSchedule(tf.keras.callbacks.Callback):
  """Runs the model's Z- and U-steps over the whole crop set: Z only before
  the first training step, both after every `every` epochs."""

  def __init__(self, crops, every, batchsize):
    super().__init__()
    self.crops, self.every, self.batchsize = crops, every, batchsize
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
  """Trains per `config`; writes config.model_path; returns the model."""
  if config.seed is not None:
    tf.keras.utils.set_random_seed(config.seed)
  crops = crop_set(config)
  dataset = crop_dataset(crops, config.batchsize, config.seed)
  if config.pruning and config.admm != "off":
    side = config.patchsize // model_lib.STRIDE
    model = make_model(config, (len(crops), side, side,
                                config.latent_channels))
    callbacks = [ADMMSchedule(crops, config.admm_every_epochs,
                              config.batchsize)]
  else:  # No ADMM variables: the same crops, without their indices.
    model, callbacks = make_model(config), []
    dataset = dataset.map(lambda indices, x: x)
  source = training.warm_start(model, config)
  training.compile_adam(model, config)
  images = dataset.map(lambda indices, x: x) if callbacks else dataset
  return training.fit_and_save(
      model, config, dataset, metadata={"sampling": SAMPLING},
      system_callbacks=callbacks, source=source,
      make_tables=lambda m: codec.fitted_tables(m, images.take(16)))

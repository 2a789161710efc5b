"""`cae_admm train`: its `Config`, and the model it trains on the shared
Keras loop (`bls2017.core.training`) -- distortion under the ADMM pruning schedule,
then factorized tables fitted to the pruned integer latents."""

import dataclasses

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
  num_filters: int = 64
  latent_channels: int = 32


def train(config):
  """Trains per `config`; writes config.model_path; returns the model."""
  side = config.patchsize // model_lib.STRIDE
  return training.train_fitting_tables(config, lambda: model_lib.CAEADMMModel(
      config.num_filters, config.latent_channels, config.channels,
      config.keep_fraction, config.rho, config.ms_ssim_weight,
      config.pruning, config.admm_every_epochs * config.steps_per_epoch,
      admm_mode=config.admm,
      retrain_from=round((1 - config.retrain_fraction) * config.total_steps),
      admm_shape=(config.batchsize, side, side, config.latent_channels)),
      codec.fitted_tables)

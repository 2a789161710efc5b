"""`content_weighted train`: its `Config`, and the model it trains on the
shared Keras loop (`bls2017.core.training`) -- R_proxy + lambda * MSE with the
context model -- then the importance map's fitted factorized tables."""

import dataclasses

from bls2017.core import training
from bls2017.core.train_config import KerasTrainConfig
from content_weighted import codec, model as model_lib


@dataclasses.dataclass
class Config(KerasTrainConfig):
  """A `content_weighted train` run (the flags of the same names)."""
  model_path: str = "content_weighted.npz"
  patchsize: int = 128
  lmbda: float = 0.01
  importance_map: bool = True
  mask_gradient: str = "band"  # One of content_weighted.MASK_GRADIENTS.
  num_filters: int = 64
  code_channels: int = 32
  groups: int = 16
  num_levels: int = 8


def train(config):
  """Trains per `config`; writes config.model_path; returns the model."""
  return training.train_fitting_tables(
      config, lambda: model_lib.ContentWeightedModel(
          config.lmbda, config.num_filters, config.code_channels,
          config.groups, config.num_levels, config.channels,
          config.importance_map, config.mask_gradient),
      codec.fitted_tables)

"""`content_weighted train`: its `Config`, and the model it trains on the
shared Keras loop (`bls2017.core.training`) -- R_proxy + lambda * MSE with the
context model -- then the importance map's fitted factorized tables."""

import dataclasses

from bls2017.core import commands, training
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
  relaxed_fraction: float = 0.0  # First share of steps on the relaxed mask.
  transform: str = "gdn"  # One of content_weighted.TRANSFORMS.
  map_model: str = "factorized"  # One of content_weighted.MAP_MODELS.
  num_filters: int = 64
  code_channels: int = 32
  groups: int = 16
  num_levels: int = 8


def train(config):
  """Trains per `config`; writes config.model_path; returns the model.
  Raises commands.UsageError (a ValueError) for a relaxed_fraction outside
  [0, 1)."""
  if not 0 <= config.relaxed_fraction < 1:
    raise commands.UsageError(f"--relaxed_fraction must be in [0, 1), not "
                              f"{config.relaxed_fraction}.")
  relaxed_until = (round(config.relaxed_fraction * config.total_steps)
                   if config.relaxed_fraction else None)
  return training.train_fitting_tables(
      config, lambda: model_lib.ContentWeightedModel(
          config.lmbda, config.num_filters, config.code_channels,
          config.groups, config.num_levels, config.channels,
          config.importance_map, config.mask_gradient,
          relaxed_until=relaxed_until, transform=config.transform,
          map_model=config.map_model),
      codec.fitted_tables)

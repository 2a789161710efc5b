"""`content_weighted train`: the model it trains on the one training
outline (`bls2017.core.training.train`) -- R_proxy + lambda * MSE with the
context model -- then the importance map's fitted factorized tables.
Its `Config` is in `content_weighted.config`."""

from bls2017.core import commands, training
from content_weighted import codec, model as model_lib


def train(config):
  """Trains per `config`; writes config.model_path; returns the model.
  Raises commands.UsageError (a ValueError) for a relaxed_fraction outside
  [0, 1)."""
  if not 0 <= config.relaxed_fraction < 1:
    raise commands.UsageError(f"--relaxed_fraction must be in [0, 1), not "
                              f"{config.relaxed_fraction}.")
  relaxed_until = (round(config.relaxed_fraction * config.total_steps)
                   if config.relaxed_fraction else None)
  return training.train(
      config, lambda: model_lib.ContentWeightedModel(
          config.lmbda, config.num_filters, config.code_channels,
          config.groups, config.num_levels, config.channels,
          config.importance_map, config.mask_gradient,
          relaxed_until=relaxed_until, transform=config.transform,
          map_model=config.map_model),
      build_tables=lambda model, dataset: codec.fitted_tables(
          model, dataset.take(16)))

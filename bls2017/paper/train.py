"""`bls2017 train`: one model of the paper per run, on the shared Keras
loop (`bls2017.core.training`).

    BLS2017Config --build_dataset--> patches
    BLS2017Model (random, or --warm_start from a model file)
        --fit_and_save--> model file (weights, the prior's tables)
"""

import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf

from bls2017.core import layers, model_file
from bls2017.core.train_config import KerasTrainConfig
from bls2017.core.training import (build_dataset, compile_adam,
                                   distribution_strategy, fit_and_save)
from bls2017.paper.architecture import default_filters
from bls2017.paper.model import BLS2017Model


@dataclasses.dataclass
class BLS2017Config(KerasTrainConfig):
  """`bls2017 train`: one model of the paper at `lmbda`."""
  lmbda: float = 0.01
  num_filters: Optional[int] = None  # None: default_filters(channels).
  gdn: str = "simplified"  # One of train_config.GDN_FORMS.

  def __post_init__(self):
    super().__post_init__()
    if self.num_filters is None:
      self.num_filters = default_filters(self.channels)


def warm_start(model, source):
  """Copies `source`'s coding variables into `model`, adapting channels.

  The filter counts and GDN forms must match. When the channel counts differ (an RGB
  model starting a grayscale one, or the reverse), g_a's first kernel is
  summed over the source's input channels -- a gray image replicated to RGB
  gives exactly that response -- and g_s's last kernel and bias are
  averaged over its output channels (gray as the mean of R, G and B); then
  each is spread evenly over the target's channels. The RDFT kernel
  parameters are linear in the kernel, so this is done on them directly.
  """
  if model.num_filters != source.num_filters:
    raise model_file.ModelFileError(
        f"--warm_start model has {source.num_filters} filters, this one "
        f"{model.num_filters}; they must match.")
  if model.gdn != source.gdn:
    raise model_file.ModelFileError(
        f"--warm_start model has --gdn {source.gdn}, this one --gdn "
        f"{model.gdn}; they must match.")
  analysis = {id(v) for v in model.g_a.weights}
  for target, value in zip(model.coding_variables, source.coding_variables):
    value = value.numpy()
    if value.shape != target.shape:
      axis = [a for a, (m, n) in enumerate(zip(value.shape, target.shape))
              if m != n][0]
      if id(target) in analysis:  # Input channels: sum, then share out.
        value = value.sum(axis, keepdims=True) / target.shape[axis]
      else:  # Output channels: average.
        value = value.mean(axis, keepdims=True)
      value = np.repeat(value, target.shape[axis], axis)
    target.assign(value)


def train(config):
  """Trains one bls2017 model per `config` (a `train_config.BLS2017Config`);
  writes config.model_path and returns the model."""
  if config.seed is not None:
    tf.keras.utils.set_random_seed(config.seed)
  dataset = build_dataset(config, config.seed)
  source = (model_file.load(config.warm_start, BLS2017Model)
            if config.warm_start else None)
  strategy = distribution_strategy(config.strategy)
  with strategy.scope():
    model = BLS2017Model(config.lmbda, config.num_filters, config.channels,
                         config.gdn)
    if source:
      warm_start(model, source.model)
    layers.set_kernel_by_matmul(model)
    compile_adam(model, config)
  return fit_and_save(model, config, dataset,
                      {"replicas": strategy.num_replicas_in_sync},
                      source=source)

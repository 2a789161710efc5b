"""`bls2017 train`: one model of the paper per run, on the one training
outline (`bls2017.core.training.train`).

    paper.Config --build_dataset--> patches
    BLS2017Model (random, or --warm_start from a model file, channels
        adapted) --kernels by matmul, fit_and_save--> model file (weights,
        the prior's tables)
"""

import numpy as np

from bls2017.core import layers, model_file, training
from bls2017.paper.model import BLS2017Model


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
        f"the warm-start model has {source.num_filters} filters, this one "
        f"{model.num_filters}; they must match.")
  if model.gdn != source.gdn:
    raise model_file.ModelFileError(
        f"the warm-start model has --gdn {source.gdn}, this one --gdn "
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
  """Trains one bls2017 model per `config` (a `paper.Config`); writes
  config.model_path and returns the model."""
  return training.train(
      config, lambda: BLS2017Model(config.lmbda, config.num_filters,
                                   config.channels, config.gdn),
      hooks=training.Hooks(warm_start=warm_start,
                           prepare=layers.set_kernel_by_matmul))

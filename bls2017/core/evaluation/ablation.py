"""Ablation statistics: paired differences between models on the same
images, with 95 % confidence intervals.

    {model: per-image rows} --ablation_figures--> each model's means, and
        each later model's difference from the first (paired t interval)
"""

import numpy as np

from bls2017.core import timing
from bls2017.core.evaluation.results import write_json


def paired_difference(values, baseline):
  """{"mean", "ci95": [low, high]}: the mean over images of values -
  baseline (same images, same order) with its 95 % confidence interval
  (paired Student t, `scipy.stats.ttest_rel`); the interval is one point
  where every image differs alike, NaN with a single image."""
  from scipy import stats  # pylint: disable=import-outside-toplevel
  differences = np.subtract(values, baseline, dtype=np.float64)
  mean = float(np.mean(differences))
  if len(differences) > 1 and np.ptp(differences) == 0:
    interval = (mean, mean)
  elif len(differences) > 1:
    interval = stats.ttest_rel(values, baseline).confidence_interval(0.95)
  else:
    interval = (float("nan"),) * 2
  return {"mean": mean, "ci95": [float(interval[0]), float(interval[1])]}


def ablation_figures(rows_by_model, extras):
  """The ablation commands' results: for each model, the mean of each
  per-image figure over the images, with extras[model]; and for every model
  after the first, under "vs_first", each figure's difference from the
  first model's with its 95 % confidence interval over the images.

  rows_by_model: {model: [per-image {figure: value}]}, same images each.
  """
  first = next(iter(rows_by_model))
  results = {}
  for name, rows in rows_by_model.items():
    keys = list(rows[0])
    figures = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    figures.update(images=len(rows), **extras[name])
    if name != first:
      figures["vs_first"] = {"model": first, **{
          k: paired_difference([r[k] for r in rows],
                               [r[k] for r in rows_by_model[first]])
          for k in keys}}
    results[name] = figures
  return results


def run_ablation(measure, describe, codecs, names, paths, output):
  """The related systems' `ablation`: measure(codec, paths, name) -> per-
  image rows, describe(codec) -> what to record of the model; writes
  `ablation_figures` as JSON to `output` and returns them."""
  machine = timing.machine()  # In every model's figures: the file's format.
  figures = ablation_figures(
      {name: measure(codec, paths, name)
       for name, codec in zip(names, codecs)},
      {name: dict(describe(codec), machine=machine)
       for name, codec in zip(names, codecs)})
  write_json(output, figures)
  return figures

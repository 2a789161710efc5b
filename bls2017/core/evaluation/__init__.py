"""Rate-distortion evaluation of codecs on a set of images.

    run:   codecs + classical codecs --measure--> per-image records
           --summarize--> curves --results--> METHOD.json (CompressAI's
           layout), per_image.csv, rate_matched.csv, timings.json
           --bd--> bd.json, bd_ANCHOR.json --plots--> rd_*.png, visual.png
    merge_results: results files of separate runs --> the same outputs

    measure    real bitstreams: size, quality, seconds; rate matching
    results    the files: CompressAI JSON, CSV, phase timings, plots
    bd         Bjøntegaard deltas with their curve overlap
    ablation   paired differences with confidence intervals

The names below are this package's interface; each lives in one module.
"""

import functools
import os

from bls2017.core import baselines, images, timing
from bls2017.core.evaluation import bd as bd_lib, measure, results
from bls2017.core.evaluation.ablation import (ablation_figures,
                                               paired_difference,
                                               run_ablation)
from bls2017.core.evaluation.bd import (MIN_OVERLAP, bd_file_name,
                                         bd_metrics, curve_overlap)
from bls2017.core.evaluation.measure import (Measured, evaluate_baseline,
                                              evaluate_codec, image_paths,
                                              rate_matched, summarize,
                                              training_record, visual_figure)
from bls2017.core.evaluation.results import (PhaseClock, ResultsError,
                                              compressai_json, read_machines,
                                              read_results, write_csv,
                                              write_json)

__all__ = [
    "MIN_OVERLAP", "Measured", "PhaseClock", "ResultsError",
    "ablation_figures", "bd_file_name", "bd_metrics", "compressai_json",
    "curve_overlap", "evaluate_baseline", "evaluate_codec", "image_paths",
    "merge_results", "paired_difference", "rate_matched", "read_machines",
    "read_results", "run", "run_ablation", "summarize", "training_record",
    "visual_figure", "write_csv", "write_json"]


def run(codecs, names, paths, baseline_codecs, anchors, output_dir,
        progress=True, references=()):
  """Evaluates models and classical codecs; writes JSON, CSV and plots.

  codecs: list of loaded `codec.Codec`, named by `names`.
  anchors: the methods BD-rates are computed against (`bd.write_bd`).
  references: published curves' results files (CompressAI layout, with a
    "source"), drawn in the plots and compared by BD-rate, not rewritten.
  Every file written records the machine (`timing.machine`).
  Returns ({method: list of summaries}, {anchor: {method: BD figures}}).
  """
  os.makedirs(output_dir, exist_ok=True)
  machine = timing.machine()
  clock = results.PhaseClock(os.path.join(output_dir, "timings.json"),
                             machine)
  curves = _CurveFiles(output_dir, machine)
  if codecs:
    results.write_json(os.path.join(output_dir, "training.json"), {
        "models": [measure.training_record(name, codec)
                   for name, codec in zip(names, codecs)],
        "machine": machine})
  per_model, rows = _evaluate_models(names, codecs, paths, curves, clock,
                                     progress)
  # What each codec made of each image, shared by the sweep and all the
  # rate matching: {codec: {(path, channels): Measured}}.
  measured = {baseline: {} for baseline in baseline_codecs}
  rows += _evaluate_baselines(baseline_codecs, paths, measured, curves,
                              clock, progress)
  results.write_csv(os.path.join(output_dir, "per_image.csv"), rows)
  _rate_match(names, codecs, per_model, baseline_codecs, paths, measured,
              clock, output_dir, progress)
  with clock.phase("BD-rates and plots"):
    bd = _compare(curves.curves, references, anchors, output_dir, machine,
                  len(paths))
    if codecs:
      measure.visual_figure(codecs[0], paths[0], baseline_codecs,
                            os.path.join(output_dir, "visual.png"))
  return curves.curves, bd


class _CurveFiles:
  """Each method's curve, rewritten to METHOD.json as soon as it gains a
  point, so that a long run leaves results behind."""

  def __init__(self, output_dir, machine):
    self.output_dir, self.machine = output_dir, machine
    self.curves, self.descriptions = {}, dict(baselines.DESCRIPTIONS)

  def set(self, method, summaries, description=None):
    self.curves[method] = summaries
    self.descriptions.setdefault(method, description)
    self._write(method)

  def _write(self, method):
    description = self.descriptions[method]
    if method not in baselines.DESCRIPTIONS:
      description += " (" + ", ".join(
          s["model"] for s in self.curves[method]) + ")"
    results.write_json(
        os.path.join(self.output_dir, f"{method}.json"),
        dict(results.compressai_json(method, description,
                                     self.curves[method]),
             machine=self.machine))


def _evaluate_models(names, codecs, paths, curves, clock, progress):
  """Measures each model on every image; returns (its records per model,
  the per-image rows)."""
  per_model, rows = [], []
  for name, codec in zip(names, codecs):
    with clock.phase(f"model {name}"):
      records = measure.evaluate_codec(codec, paths, progress, label=name)
    per_model.append(records)
    # Grayscale models are measured on luma: a curve of their own.
    method = codec.method + ("" if codec.channels == 3 else "-gray")
    rows += [dict(method=method, model=name, **r) for r in records]
    summaries = curves.curves.get(method, [])
    curves.set(method, summaries + [dict(measure.summarize(records),
                                         model=name)], codec.description)
  return per_model, rows


def _evaluate_baselines(baseline_codecs, paths, measured, curves, clock,
                        progress):
  """Sweeps each classical codec's quality over every image; returns the
  per-image rows."""
  rows = []
  for baseline in baseline_codecs:
    with clock.phase(f"{baseline} quality sweep"):
      sweep = measure.evaluate_baseline(baseline, paths, progress=progress,
                                        measured=measured[baseline])
    curves.set(baseline, [dict(measure.summarize(r), quality=q)
                          for q, r in sweep.items()])
    rows += [dict(method=baseline, **r) for rs in sweep.values() for r in rs]
  return rows


def _rate_match(names, codecs, per_model, baseline_codecs, paths, measured,
                clock, output_dir, progress):
  """rate_matched.csv: each classical codec at the largest size not above
  each model's, per image."""
  matched = []
  read = functools.lru_cache(maxsize=None)(images.read)  # Once an image.
  for name, codec, records in zip(names, codecs, per_model):
    for baseline in baseline_codecs:
      with clock.phase(f"{baseline} rate matching"):
        matched += measure.rate_match_all(name, codec, baseline, paths,
                                          records, measured[baseline], read,
                                          progress)
  if matched:
    results.write_csv(os.path.join(output_dir, "rate_matched.csv"), matched)


def _compare(curves, references, anchors, output_dir, machine, count):
  """The BD files and RD plots of the measured curves and the published
  ones; returns the BD figures."""
  compared = dict(curves)
  labels = {m: results.method_label(m, m) for m in curves}
  for method, (description, summaries) in results.read_results(
      references).items():
    compared[method] = summaries
    labels[method] = results.method_label(method, description[0],
                                          published=True)
  bd = bd_lib.write_bd(compared, anchors, output_dir, [machine])
  results.plot(compared, output_dir, count, labels)
  return bd


def merge_results(paths, anchors, output_dir):
  """Merges result files (e.g. of separate `run`s on the same images):
  writes METHOD.json with every method's points in rate order, the BD
  files against each of `anchors` (`bd.write_bd`) and the RD plots.
  Returns {anchor: {method: BD figures}}."""
  merged = results.read_results(paths)
  for anchor in anchors:
    if anchor not in merged:
      raise results.ResultsError(
          f"no results for the anchor {anchor!r} (methods: "
          f"{', '.join(sorted(merged))}).")
  os.makedirs(output_dir, exist_ok=True)
  contents = [results.read_json(p) for p in paths]  # Machines, sources.
  curves, labels = {}, {}
  for method, (descriptions, summaries) in merged.items():
    curves[method] = sorted(summaries, key=lambda s: s["bpp"])
    description = " + ".join(dict.fromkeys(descriptions))
    content = results.compressai_json(method, description, curves[method])
    files = [f for f in contents if f["name"] == method]
    published = [f["source"] for f in files if "source" in f]
    labels[method] = results.method_label(method, description,
                                          bool(published))
    if published:  # A published curve: where it comes from, not a machine.
      content["source"] = " + ".join(dict.fromkeys(published))
    else:
      content["machines"] = results.read_machines(files)
    results.write_json(os.path.join(output_dir, f"{method}.json"), content)
  bd = bd_lib.write_bd(curves, anchors, output_dir,
                       results.read_machines(contents))
  results.plot(curves, output_dir, labels=labels)
  return bd

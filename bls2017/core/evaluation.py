"""Rate-distortion evaluation of codecs on a set of images.

Results are written as JSON in the layout CompressAI's plotting tools read:
    {"name": ..., "description": ...,
     "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...],
                 "encoding_time": [...], "decoding_time": [...]}}
one list entry per rate point (model or quality setting), averaged over
images.
"""

import contextlib
import csv
from concurrent import futures
import functools
import glob as glob_lib
import io
import json
import os
import time

import numpy as np

from bls2017.core import baselines, images, metrics, timing

from tqdm import tqdm


def image_paths(pattern):
  """Images in a directory, or matching a glob; sorted."""
  if os.path.isdir(pattern):
    pattern = os.path.join(pattern, "*")
  paths = [p for p in sorted(glob_lib.glob(pattern, recursive=True))
           if os.path.splitext(p)[1].lower() in (".png", ".jpg", ".jpeg")]
  if not paths:
    raise images.ImageError(f"{pattern}: no PNG or JPEG images found.")
  return paths


def evaluate_codec(codec, paths, progress=True, label=None):
  """Per-image records for a bls2017 `codec.Codec` on image `paths`;
  `label` names the progress bar (default: the model's Keras name)."""
  records = []
  warm = False
  for path in tqdm(paths, desc=label or codec.model.name,
                   disable=not progress):
    x = images.read(path, codec.channels)
    if not warm:  # Trace the tf.functions outside the timed calls.
      codec.decompress(codec.compress(x))
      warm = True
    start = time.perf_counter()
    data = codec.compress(x)
    encoded = time.perf_counter()
    x_hat = codec.decompress(data)
    decoded = time.perf_counter()
    record = _record(path, x, x_hat, len(data))
    record.update(
        encoding_time=encoded - start, decoding_time=decoded - encoded,
        estimated_bpp=codec.information_content(x) / (
            x.shape[0] * x.shape[1]))
    records.append(record)
  return records


class Measured:
  """What is known of one classical codec on one image: its encodings and
  their records (size and quality) by quality setting, so that the sweep
  and every rate matching encode and measure each setting once."""

  def __init__(self):
    self.encodings = {}  # {quality: bytes}
    self.records = {}  # {quality: record without timings}


def evaluate_baseline(codec, paths, settings=None, progress=True,
                      measured=None):
  """{setting: per-image records} for a Pillow codec's quality sweep.

  Run one image at a time, so that the timings are of one encoder alone.
  measured: a dict that gains {(path, 3): Measured} (for `rate_matched`).
  """
  settings = settings or baselines.SWEEP[codec]
  results = {q: [] for q in settings}
  measured = {} if measured is None else measured
  for path in tqdm(paths, desc=f"{codec} quality sweep",
                   disable=not progress):
    x = images.read(path, 3)
    known = measured.setdefault((path, 3), Measured())
    for quality in settings:
      start = time.perf_counter()
      data = baselines.encode(codec, x, quality)
      encoded = time.perf_counter()
      x_hat = baselines.decode(data, x.shape[-1])
      decoded = time.perf_counter()
      record = _record(path, x, x_hat, len(data))
      known.encodings[quality] = data
      known.records[quality] = dict(record)
      record.update(quality=quality, encoding_time=encoded - start,
                    decoding_time=decoded - encoded)
      results[quality].append(record)
  return results


def rate_matched(codec, path, x, max_bytes, known=None):
  """Record of `codec` at its largest size not above max_bytes.

  known: the `Measured` of this codec on x; the search starts from its
  encodings (`baselines.match_size`), a setting already measured is not
  measured again, and it gains what is new.
  """
  known = known or Measured()
  quality, data = baselines.match_size(codec, x, max_bytes, known.encodings)
  if quality not in known.records:
    known.records[quality] = _record(
        path, x, baselines.decode(data, x.shape[-1]), len(data))
  return dict(known.records[quality], quality=quality)


# The `bjontegaard` package warns below this curve overlap.
MIN_OVERLAP = 0.75


def curve_overlap(anchor, test):
  """How much two curves share along one axis: their common interval over
  the interval both span, as `bjontegaard` measures it before integrating
  (it only warns; here the figure is recorded beside each BD value)."""
  common = min(max(anchor), max(test)) - max(min(anchor), min(test))
  span = max(max(anchor), max(test)) - min(min(anchor), min(test))
  return float(max(common, 0) / span) if span > 0 else 0.


def bd_metrics(anchor, test):
  """BD-rate (%) and BD-PSNR (dB) of `test` against `anchor` summaries,
  each with its curve overlap (`bd_rate_psnr_overlap`, ...: 0..1).

  Both are lists of per-rate-point summaries; BD-rate uses piecewise cubic
  (PCHIP) interpolation of log-rate over quality, for PSNR and MS-SSIM dB,
  and integrates over the quality range both curves cover; BD-PSNR over
  the common log-rate range. Returns NaN where a curve has fewer than two
  points or no overlap.
  """
  import bjontegaard  # pylint: disable=import-outside-toplevel
  result = {}
  for name, key in (("psnr", "psnr"), ("ms_ssim_db", "ms_ssim_db")):
    rates_a = [s["bpp"] for s in anchor]
    rates_t = [s["bpp"] for s in test]
    dist_a = [s[key] for s in anchor]
    dist_t = [s[key] for s in test]
    try:
      result[f"bd_rate_{name}"] = float(bjontegaard.bd_rate(
          rates_a, dist_a, rates_t, dist_t, method="pchip",
          require_matching_points=False, min_overlap=0))
      result[f"bd_{name}"] = float(bjontegaard.bd_psnr(
          rates_a, dist_a, rates_t, dist_t, method="pchip",
          require_matching_points=False, min_overlap=0))
    except (ValueError, IndexError, ZeroDivisionError):
      result[f"bd_rate_{name}"] = result[f"bd_{name}"] = float("nan")
    result[f"bd_rate_{name}_overlap"] = curve_overlap(dist_a, dist_t)
    result[f"bd_{name}_overlap"] = curve_overlap(np.log10(rates_a),
                                                 np.log10(rates_t))
  return result


def _record(path, x, x_hat, num_bytes):
  quality = metrics.quality(x, x_hat)
  return {"image": os.path.basename(path), "height": x.shape[0],
          "width": x.shape[1], "bytes": num_bytes,
          "bpp": metrics.bpp(num_bytes, x), "psnr": quality["psnr"],
          "ssim": quality["ssim"], "ms_ssim": quality["ms_ssim"],
          "ms_ssim_db": quality["ms_ssim_db"]}


def summarize(records):
  """Mean of every numeric field over images (MS-SSIM dB from the mean)."""
  keys = [k for k, v in records[0].items()
          if isinstance(v, (int, float)) and k not in ("height", "width")]
  summary = {k: float(np.nanmean([r[k] for r in records])) for k in keys}
  summary["ms_ssim_db"] = metrics.ms_ssim_db(summary["ms_ssim"])
  if "estimated_bpp" in summary:
    summary["overhead"] = summary["bpp"] / summary["estimated_bpp"] - 1
  summary["images"] = len(records)
  return summary


def compressai_json(name, description, summaries):
  """The CompressAI results layout for a list of per-rate-point summaries
  ("ssim-rgb" where every summary has SSIM: older results files lack it)."""
  fields = {"bpp": "bpp", "psnr-rgb": "psnr", "ssim-rgb": "ssim",
            "ms-ssim-rgb": "ms_ssim", "encoding_time": "encoding_time",
            "decoding_time": "decoding_time"}
  return {"name": name, "description": description,
          "results": {out: [s[key] for s in summaries]
                      for out, key in fields.items()
                      if all(key in s for s in summaries)}}


def write_json(path, content):
  with images.atomic_output(path) as f:
    f.write(json.dumps(content, indent=2).encode())


def write_csv(path, rows):
  buffer = io.StringIO()
  fields = list(dict.fromkeys(k for row in rows for k in row))
  writer = csv.DictWriter(buffer, fieldnames=fields)
  writer.writeheader()
  writer.writerows(rows)
  with images.atomic_output(path) as f:
    f.write(buffer.getvalue().encode())


def run(codecs, names, paths, baseline_codecs, anchors, output_dir,
        progress=True, references=()):
  """Evaluates models and classical codecs; writes JSON, CSV and plots.

  codecs: list of loaded bls2017 `codec.Codec`, named by `names`.
  anchors: the methods BD-rates are computed against (`_write_bd`).
  references: published curves' results files (CompressAI layout, with a
    "source"), drawn in the plots and compared by BD-rate, not rewritten.
  Every file written records the machine (`timing.machine`).
  Returns ({method: list of summaries}, {anchor: {method: BD figures}}).
  """
  os.makedirs(output_dir, exist_ok=True)
  machine = timing.machine()
  curves, rows, matched = {}, [], []
  per_model, descriptions = [], dict(baselines.DESCRIPTIONS)
  clock = PhaseClock(os.path.join(output_dir, "timings.json"), machine)

  def write_method(method):
    # Written as soon as a curve gains a point: a long run leaves results.
    description = descriptions[method]
    if method not in baselines.DESCRIPTIONS:
      description += " (" + ", ".join(
          s["model"] for s in curves[method]) + ")"
    write_json(os.path.join(output_dir, f"{method}.json"),
               dict(compressai_json(method, description, curves[method]),
                    machine=machine))

  if codecs:
    write_json(os.path.join(output_dir, "training.json"),
               {"models": [training_record(name, codec)
                           for name, codec in zip(names, codecs)],
                "machine": machine})
  for name, codec in zip(names, codecs):
    with clock.phase(f"model {name}"):
      records = evaluate_codec(codec, paths, progress, label=name)
    per_model.append(records)
    # Grayscale models are measured on luma: a curve of their own.
    method = codec.method + ("" if codec.channels == 3 else "-gray")
    descriptions.setdefault(method, codec.description)
    rows += [dict(method=method, model=name, **r) for r in records]
    curves.setdefault(method, []).append(dict(summarize(records), model=name))
    write_method(method)
  # What each codec made of each image, shared by the sweep and all the
  # rate matching: {codec: {(path, channels): Measured}}.
  measured = {baseline: {} for baseline in baseline_codecs}
  for baseline in baseline_codecs:
    with clock.phase(f"{baseline} quality sweep"):
      sweep = evaluate_baseline(baseline, paths, progress=progress,
                                measured=measured[baseline])
    curves[baseline] = [dict(summarize(r), quality=q)
                        for q, r in sweep.items()]
    rows += [dict(method=baseline, **r) for rs in sweep.values() for r in rs]
    write_method(baseline)
  write_csv(os.path.join(output_dir, "per_image.csv"), rows)
  # Rate-matched: each codec at the largest size not above the model's.
  read = functools.lru_cache(maxsize=None)(images.read)  # Once an image.
  for name, codec, records in zip(names, codecs, per_model):
    for baseline in baseline_codecs:
      with clock.phase(f"{baseline} rate matching"):
        matched += _rate_match(name, codec, baseline, paths, records,
                               measured[baseline], read, progress)
  if matched:
    write_csv(os.path.join(output_dir, "rate_matched.csv"), matched)
  with clock.phase("BD-rates and plots"):
    compared = dict(curves)  # The measured curves and the published ones.
    labels = {m: _method_label(m, m) for m in curves}
    for method, (description, summaries) in read_results(references).items():
      compared[method] = summaries
      labels[method] = _method_label(method, description[0], published=True)
    bd = _write_bd(compared, anchors, output_dir, [machine])
    _plot(compared, output_dir, len(paths), labels)
    if codecs:
      visual_figure(codecs[0], paths[0], baseline_codecs,
                    os.path.join(output_dir, "visual.png"))
  return curves, bd


# What a results file says of how each model was trained (model files
# record more, e.g. the command, whose paths are the training machine's).
TRAINING_FIELDS = ("steps", "total_steps", "warm_start", "seconds_this_run")


def training_record(name, codec):
  """{model, method, fingerprint, and its file's TRAINING_FIELDS and final
  training figures}: the training behind one evaluated model."""
  metadata = codec.loaded.metadata
  record = {"model": name, "method": codec.method,
            "fingerprint": codec.fingerprint.hex()}
  record.update((key, value) for key, value in metadata.items()
                if key in TRAINING_FIELDS or key.startswith("final_train_"))
  return record


class PhaseClock:
  """Wall seconds of each phase of a run (a phase entered again adds to its
  time), rewritten to a JSON file as each phase ends:
  {"phases": {name: seconds}, "total": seconds}."""

  def __init__(self, path, machine=None):
    self.path, self.phases, self.machine = path, {}, machine

  @contextlib.contextmanager
  def phase(self, name):
    start = time.perf_counter()
    yield
    self.phases[name] = (self.phases.get(name, 0.) +
                         time.perf_counter() - start)
    write_json(self.path, {"phases": self.phases,
                           "total": sum(self.phases.values()),
                           **({"machine": self.machine} if self.machine
                              else {})})


def _rate_match(name, codec, baseline, paths, records, measured, read,
                progress):
  """Rate-matched records of `baseline` to model `name` on every image, the
  images coded side by side on all cores (no timings are taken here)."""
  for path in paths:  # Created here, not by the threads.
    measured.setdefault((path, codec.channels), Measured())

  def match(path_and_record):
    path, record = path_and_record
    return dict(model=name, method=baseline, **rate_matched(
        baseline, path, read(path, codec.channels), record["bytes"],
        measured[(path, codec.channels)]))

  workers = max(1, min(len(paths), os.cpu_count() or 1))
  with futures.ThreadPoolExecutor(workers) as pool:
    return list(tqdm(pool.map(match, zip(paths, records)), total=len(paths),
                     desc=f"rate matching {baseline} to {name}",
                     disable=not progress))


def bd_file_name(anchor, first):
  """bd.json against the first anchor, bd_ANCHOR.json against the others."""
  return "bd.json" if first else f"bd_{anchor}.json"


def _write_bd(curves, anchors, output_dir, machines):
  """{anchor: {method: BD figures against it}}, each written to its file
  (`bd_file_name`); an anchor with no curve has nothing to compare, so no
  file."""
  bd = {}
  for k, anchor in enumerate(anchors):
    if anchor not in curves:
      continue
    bd[anchor] = {method: bd_metrics(curves[anchor], summaries)
                  for method, summaries in curves.items() if method != anchor}
    write_json(os.path.join(output_dir, bd_file_name(anchor, k == 0)),
               {"anchor": anchor, **bd[anchor], "machines": machines})
  return bd


def visual_figure(codec, path, baseline_codecs, output):
  """The paper's figure 5: crops of the original and each codec at <= bpp."""
  from bls2017.core import plots  # pylint: disable=import-outside-toplevel
  x = images.read(path, codec.channels)
  data = codec.compress(x)
  x_hat = codec.decompress(data)
  panels = [("original", x), (_label(codec.method, x, data, x_hat), x_hat)]
  for baseline in baseline_codecs:
    _, encoded = baselines.match_size(baseline, x, len(data))
    decoded = baselines.decode(encoded, x.shape[-1])
    panels.append((_label(baseline, x, encoded, decoded), decoded))
  return plots.visual_comparison(output, panels)


def _label(name, x, data, x_hat):
  return (f"{name}: {metrics.bpp(len(data), x):.3f} bpp, "
          f"{metrics.psnr(x, x_hat):.2f} dB")


def _plot(curves, output_dir, count=None, labels=None):
  from bls2017.core import plots  # pylint: disable=import-outside-toplevel
  labels = labels or {m: _method_label(m, m) for m in curves}
  labelled = {labels[m]: s for m, s in curves.items()}
  title = "Rate-distortion" + (f", {count} images" if count else "")
  plots.rd_curves(os.path.join(output_dir, "rd_psnr.png"), labelled, "psnr",
                  "PSNR (dB, RGB)", title)
  plots.rd_curves(os.path.join(output_dir, "rd_msssim.png"), labelled,
                  "ms_ssim_db", "MS-SSIM (dB)", title)


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
  results = ablation_figures(
      {name: measure(codec, paths, name)
       for name, codec in zip(names, codecs)},
      {name: dict(describe(codec), machine=machine)
       for name, codec in zip(names, codecs)})
  write_json(output, results)
  return results


class ResultsError(ValueError):
  """A results file is missing, not JSON, or not in the CompressAI layout."""


def read_results(paths):
  """{method: (descriptions, summaries)} from CompressAI-layout JSON files
  (what `run` writes); files of the same method add their rate points."""
  merged = {}
  for path in paths:
    try:
      with open(path, encoding="utf-8") as f:
        content = json.load(f)
      name, results = content["name"], content["results"]
      columns = [results[out] for out in ("bpp", "psnr-rgb", "ms-ssim-rgb")]
    except (OSError, ValueError, KeyError, TypeError) as e:
      raise ResultsError(f"{path}: not a results file ({e}).") from None
    descriptions, summaries = merged.setdefault(name, ([], []))
    descriptions.append(content.get("description", name))
    # SSIM and seconds where the file has them: files written before SSIM
    # lack it, and published curves have no seconds.
    optional = {key: results.get(out, [None] * len(columns[0]))
                for out, key in (("ssim-rgb", "ssim"),
                                 ("encoding_time", "encoding_time"),
                                 ("decoding_time", "decoding_time"))}
    for k, (bpp, psnr, ms_ssim) in enumerate(zip(*columns)):
      summaries.append({"bpp": bpp, "psnr": psnr, "ms_ssim": ms_ssim,
                        "ms_ssim_db": metrics.ms_ssim_db(ms_ssim),
                        **{key: values[k] for key, values in optional.items()
                           if values[k] is not None}})
  return merged


def read_machines(contents):
  """The distinct machine records of results files' contents: `machine`
  where `run` wrote it, `machines` where a merge did (files written before
  either have none, and published curves none of this project's)."""
  machines = []
  for content in contents:
    for machine in content.get("machines", [content.get("machine")]):
      if machine and machine not in machines:
        machines.append(machine)
  return machines


def merge_results(paths, anchors, output_dir):
  """Merges result files (e.g. of separate `run`s on the same images):
  writes METHOD.json with every method's points in rate order, the BD
  files against each of `anchors` (`_write_bd`) and the RD plots.
  Returns {anchor: {method: BD figures}}."""
  merged = read_results(paths)
  for anchor in anchors:
    if anchor not in merged:
      raise ResultsError(f"no results for the anchor {anchor!r} (methods: "
                         f"{', '.join(sorted(merged))}).")
  os.makedirs(output_dir, exist_ok=True)
  contents = [_read_json(p) for p in paths]  # Their machines and sources.
  curves, labels = {}, {}
  for method, (descriptions, summaries) in merged.items():
    curves[method] = sorted(summaries, key=lambda s: s["bpp"])
    description = " + ".join(dict.fromkeys(descriptions))
    content = compressai_json(method, description, curves[method])
    files = [f for f in contents if f["name"] == method]
    published = [f["source"] for f in files if "source" in f]
    labels[method] = _method_label(method, description, bool(published))
    if published:  # A published curve: where it comes from, not a machine.
      content["source"] = " + ".join(dict.fromkeys(published))
    else:
      content["machines"] = read_machines(files)
    write_json(os.path.join(output_dir, f"{method}.json"), content)
  bd = _write_bd(curves, anchors, output_dir, read_machines(contents))
  _plot(curves, output_dir, labels=labels)
  return bd


def _read_json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def _method_label(method, description, published=False):
  """A plot's legend: the classical codecs' descriptions, a published
  curve's own description, and this project's methods by name."""
  if method in baselines.DESCRIPTIONS:
    return baselines.DESCRIPTIONS[method]
  return description if published else f"{method} (this codec)"

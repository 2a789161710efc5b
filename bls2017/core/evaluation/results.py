"""Results files: CompressAI's JSON layout, CSV rows, and their plots.

    {"name": ..., "description": ...,
     "results": {"bpp": [...], "psnr-rgb": [...], "ssim-rgb": [...],
                 "ms-ssim-rgb": [...], "encoding_time": [...],
                 "decoding_time": [...]},
     "machine": {...} (measured here) or "source": "..." (published)}

one list entry per rate point (model or quality setting), averaged over
images. `read_results` reads them back, merging files of one method.
"""

import contextlib
import csv
import io
import json
import os
import time

from bls2017.core import baselines, images, metrics
from bls2017.core.images import write_json  # pylint: disable=unused-import


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


def write_csv(path, rows):
  buffer = io.StringIO()
  fields = list(dict.fromkeys(k for row in rows for k in row))
  writer = csv.DictWriter(buffer, fieldnames=fields)
  writer.writeheader()
  writer.writerows(rows)
  with images.atomic_output(path) as f:
    f.write(buffer.getvalue().encode())


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


def plot(curves, output_dir, count=None, labels=None):
  from bls2017.core import plots  # pylint: disable=import-outside-toplevel
  labels = labels or {m: method_label(m, m) for m in curves}
  labelled = {labels[m]: s for m, s in curves.items()}
  title = "Rate-distortion" + (f", {count} images" if count else "")
  plots.rd_curves(os.path.join(output_dir, "rd_psnr.png"), labelled, "psnr",
                  "PSNR (dB, RGB)", title)
  plots.rd_curves(os.path.join(output_dir, "rd_msssim.png"), labelled,
                  "ms_ssim_db", "MS-SSIM (dB)", title)


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


def read_json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def method_label(method, description, published=False):
  """A plot's legend: the classical codecs' descriptions, a published
  curve's own description, and this project's methods by name."""
  if method in baselines.DESCRIPTIONS:
    return baselines.DESCRIPTIONS[method]
  return description if published else f"{method} (this codec)"

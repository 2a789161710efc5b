"""Bjøntegaard deltas between rate-distortion curves, with their overlap.

    summaries (bpp, PSNR, MS-SSIM dB per rate point) of an anchor and a
    test curve --bd_metrics--> BD-rate (%), BD-PSNR (dB), each with the
    share of the curves' range it was integrated over
    --write_bd--> bd.json (first anchor), bd_ANCHOR.json (the others)
"""

import os

import numpy as np

from bls2017.core.evaluation.results import write_json


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


def bd_file_name(anchor, first):
  """bd.json against the first anchor, bd_ANCHOR.json against the others."""
  return "bd.json" if first else f"bd_{anchor}.json"


def write_bd(curves, anchors, output_dir, machines):
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

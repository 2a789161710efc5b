"""bls2017 evaluate: real bitstreams, figures, CompressAI JSON and CSV."""

import csv
import json
import os

import numpy as np
from PIL import Image

from bls2017 import baselines, evaluation, metrics
from synthetic import synthetic_image
from test_cli import run_cli


def test_evaluate_tiny_model_on_two_images(rgb_model_path, tmp_path):
  for k, (h, w) in enumerate([(40, 56), (170, 180)]):
    Image.fromarray(synthetic_image(h, w)).save(tmp_path / f"{k}.png")
  out = tmp_path / "results"
  assert run_cli("evaluate", tmp_path, "--model", rgb_model_path,
                 "--output_dir", out, "--per_image") == 0
  result = json.loads((out / "bls2017.json").read_text())
  assert set(result) == {"name", "description", "results"}
  assert set(result["results"]) == {"bpp", "psnr-rgb", "ms-ssim-rgb",
                                    "encoding_time", "decoding_time"}
  rows = list(csv.DictReader(open(out / "bls2017.csv")))
  assert len(rows) == 2
  # bpp counts the whole file, header included.
  for row in rows:
    h, w = int(row["height"]), int(row["width"])
    assert float(row["bpp"]) == 8 * int(row["bytes"]) / (h * w)
    assert int(row["bytes"]) >= 16
  assert np.isclose(result["results"]["bpp"][0],
                    np.mean([float(r["bpp"]) for r in rows]))
  # MS-SSIM is undefined below 161 px a side and reported as NaN.
  assert np.isnan(float(rows[0]["ms_ssim"]))
  assert 0 < float(rows[1]["ms_ssim"]) <= 1


def test_match_size_stays_at_or_under_target():
  x = synthetic_image(96, 128)
  for codec in baselines.CODECS:
    top = len(baselines.encode(codec, x, baselines.QUALITY_RANGE[codec][1]))
    target = top // 2
    quality, data = baselines.match_size(codec, x, target)
    assert len(data) <= target, codec
    # The next setting up would exceed the target.
    if quality < baselines.QUALITY_RANGE[codec][1]:
      assert len(baselines.encode(codec, x, quality + 1)) > target, codec
    decoded = baselines.decode(data, 3)
    assert decoded.shape == x.shape and metrics.psnr(x, decoded) > 15


def test_ms_ssim_db():
  assert metrics.ms_ssim_db(0.9) == 10.0
  assert np.isnan(metrics.ms_ssim_db(float("nan")))

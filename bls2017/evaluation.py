"""Rate-distortion evaluation of codecs on a set of images.

Results are written as JSON in the layout CompressAI's plotting tools read:
    {"name": ..., "description": ...,
     "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...],
                 "encoding_time": [...], "decoding_time": [...]}}
one list entry per rate point (model or quality setting), averaged over
images.
"""

import csv
import glob as glob_lib
import io
import json
import os
import time

import numpy as np

from bls2017 import images, metrics

try:
  from tqdm import tqdm
except ImportError:  # tqdm arrives with tensorflow-datasets; optional here.
  def tqdm(iterable, **kwargs):
    del kwargs
    return iterable


def image_paths(pattern):
  """Images in a directory, or matching a glob; sorted."""
  if os.path.isdir(pattern):
    pattern = os.path.join(pattern, "*")
  paths = [p for p in sorted(glob_lib.glob(pattern, recursive=True))
           if os.path.splitext(p)[1].lower() in (".png", ".jpg", ".jpeg")]
  if not paths:
    raise images.ImageError(f"{pattern}: no PNG or JPEG images found.")
  return paths


def evaluate_codec(codec, paths, progress=True):
  """Per-image records for a bls2017 `codec.Codec` on image `paths`."""
  records = []
  warm = False
  for path in tqdm(paths, desc=codec.model.name, disable=not progress):
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


def _record(path, x, x_hat, num_bytes):
  quality = metrics.quality(x, x_hat)
  return {"image": os.path.basename(path), "height": x.shape[0],
          "width": x.shape[1], "bytes": num_bytes,
          "bpp": metrics.bpp(num_bytes, x), "psnr": quality["psnr"],
          "ms_ssim": quality["ms_ssim"], "ms_ssim_db": quality["ms_ssim_db"]}


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
  """The CompressAI results layout for a list of per-rate-point summaries."""
  fields = {"bpp": "bpp", "psnr-rgb": "psnr", "ms-ssim-rgb": "ms_ssim",
            "encoding_time": "encoding_time",
            "decoding_time": "decoding_time"}
  return {"name": name, "description": description,
          "results": {out: [s[key] for s in summaries]
                      for out, key in fields.items()}}


def write_json(path, content):
  with images.atomic_output(path) as f:
    f.write(json.dumps(content, indent=2).encode())


def write_csv(path, rows):
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
  writer.writeheader()
  writer.writerows(rows)
  with images.atomic_output(path) as f:
    f.write(buffer.getvalue().encode())

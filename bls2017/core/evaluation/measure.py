"""Measuring codecs on images: real bitstreams, their size and quality.

    model codec --evaluate_codec--> per-image records (bytes, bpp, PSNR,
        SSIM, MS-SSIM, warm encode/decode seconds, estimated bpp)
    classical codec --evaluate_baseline--> records per quality setting
        --rate_matched--> the largest file not above a model's, per image
    records --summarize--> one rate point (means over images)
"""

from concurrent import futures
import glob as glob_lib
import os
import time

import numpy as np

from bls2017.core import baselines, images, metrics

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


def rate_match_all(name, codec, baseline, paths, records, measured, read,
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

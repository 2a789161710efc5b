"""The paper's ablation: with and without the pruning schedule (and the
ADMM modes that isolate ADMM's part, `--admm`).

For each model: mean real bpp (file size), PSNR, SSIM, MS-SSIM and the
fraction of the coded latents z_hat that are zero, over a set of images; for each model
after the first, the differences from the first with 95 % confidence
intervals over the images (`evaluation.ablation_figures`).
"""

import numpy as np
from tqdm import tqdm

from bls2017.core import evaluation, images, metrics


def measure(codec, paths, desc=None):
  """Per-image figures of a `cae_admm.codec.Codec` on image `paths`."""
  rows = []
  for path in tqdm(paths, desc=desc):
    x = images.read(path, codec.channels)
    data = codec.compress(x)
    quality = metrics.quality(x, codec.decompress(data))
    rows.append({"bpp": metrics.bpp(len(data), x), "psnr": quality["psnr"],
                 "ssim": quality["ssim"], "ms_ssim": quality["ms_ssim"],
                 "zero_fraction": float(np.mean(codec.latents(x) == 0))})
  return rows


def describe(codec):
  """What the ablation records of a model: its settings and training steps."""
  return {"pruning": codec.model.pruning,
          "keep_fraction": codec.model.keep_fraction,
          "admm_mode": codec.model.admm_mode,
          "ssim_weight": codec.model.ssim_weight,
          "ms_ssim_weight": codec.model.ms_ssim_weight,
          "perceptual_from": codec.model.perceptual_from,
          # Older files lack it: their `--admm off` and `--nopruning`
          # models drew fresh patches every step.
          "sampling": codec.loaded.metadata.get("sampling"),
          "steps": codec.loaded.metadata.get("steps"),
          "training_seconds": codec.loaded.metadata.get("seconds_this_run")}


def run(codecs, names, paths, output):
  """{name: figures}; written as JSON to `output`."""
  return evaluation.run_ablation(measure, describe, codecs, names, paths,
                                 output)

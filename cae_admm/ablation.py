"""The paper's ablation: with and without the pruning schedule.

For each model: mean real bpp (file size), PSNR and the fraction of the
coded latents z_hat that are zero, over a set of images.
"""

import numpy as np
from tqdm import tqdm

from bls2017.core import evaluation, images, metrics


def measure(codec, paths, desc=None):
  """Mean figures of a `cae_admm.codec.Codec` over image `paths`."""
  rows = []
  for path in tqdm(paths, desc=desc):
    x = images.read(path, codec.channels)
    data = codec.compress(x)
    rows.append({"bpp": metrics.bpp(len(data), x),
                 "psnr": metrics.psnr(x, codec.decompress(data)),
                 "zero_fraction": float(np.mean(codec.latents(x) == 0))})
  summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
  return dict(summary, images=len(rows), pruning=codec.model.pruning,
              keep_fraction=codec.model.keep_fraction)


def run(codecs, names, paths, output):
  """{name: figures}; written as JSON to `output`."""
  results = {name: measure(codec, paths, name)
             for name, codec in zip(names, codecs)}
  evaluation.write_json(output, results)
  return results

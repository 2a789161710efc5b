"""The paper's figure 4: how well the relaxed training objective predicts
the real codec.

    random patch x --model(x, training=True)--> relaxed bpp, MSE
                     (additive uniform noise in place of rounding)
                   --compress, decompress--> real bpp (range-coded payload,
                     no header), real MSE

`bls2017 relaxed_vs_real IMAGES` writes relaxed_vs_real.json and two
scatter plots. Paper's model only: the relaxed objective is its
`model(x, training=True)` -> (bpp, MSE).
"""

import os

import numpy as np

from bls2017.core import bitstream, evaluation, images, plots, timing


def measure(codec, paths, patchsize=128, count=256, seed=0):
  """The paper's figure 4: relaxed against real rate and distortion.

  For `count` random patches: the relaxed bpp and MSE of the training
  objective (additive uniform noise) against the real ones (rounding, range
  coding; the payload without the header, which does not exist in
  the relaxed model). Returns (per-patch records, summary).
  """
  rng = np.random.default_rng(seed)
  arrays = [images.read(p, codec.channels) for p in paths]
  arrays = [a for a in arrays if min(a.shape[:2]) >= patchsize]
  if not arrays:
    raise images.ImageError(f"no image is at least {patchsize} px a side.")
  records = []
  for _ in range(count):
    x = arrays[rng.integers(len(arrays))]
    top = rng.integers(x.shape[0] - patchsize + 1)
    left = rng.integers(x.shape[1] - patchsize + 1)
    patch = np.ascontiguousarray(
        x[top:top + patchsize, left:left + patchsize])
    relaxed_bpp, relaxed_mse = codec.model(patch[None], training=True)
    data = codec.compress(patch)
    x_hat = codec.decompress(data).astype(np.float64)
    records.append({
        "relaxed_bpp": float(relaxed_bpp),
        "real_bpp": (8 * (len(data) - bitstream.HEADER_BYTES) /
                     patchsize ** 2),
        "relaxed_mse": float(relaxed_mse),
        "real_mse": float(np.mean((x_hat - patch) ** 2))})
  summary = {
      "patches": count, "patchsize": patchsize,
      "rate_bias_bpp": float(np.mean([r["real_bpp"] - r["relaxed_bpp"]
                                      for r in records])),
      "mean_relaxed_bpp": float(np.mean([r["relaxed_bpp"] for r in records])),
      "mean_real_bpp": float(np.mean([r["real_bpp"] for r in records])),
      "mse_ratio_real_to_relaxed": float(
          np.mean([r["real_mse"] / r["relaxed_mse"] for r in records])),
  }
  return records, summary


def write(codec, name, paths, output_dir, count):
  """Runs `measure` on model `name`; writes relaxed_vs_real.json
  (naming the model, its fingerprint and the images) and two scatters."""
  records, summary = measure(codec, paths, count=count)
  os.makedirs(output_dir, exist_ok=True)
  summary = {"model": name, "fingerprint": codec.fingerprint.hex(),
             "images": len(paths), **summary}
  evaluation.write_json(os.path.join(output_dir, "relaxed_vs_real.json"),
             {"summary": summary, "patches": records,
              "machine": timing.machine()})
  plots.scatter(os.path.join(output_dir, "relaxed_vs_real_rate.png"),
                [r["relaxed_bpp"] for r in records],
                [r["real_bpp"] for r in records], "relaxed rate (bpp)",
                "real rate (bpp, range coded)", "Rate: relaxed vs real")
  plots.scatter(os.path.join(output_dir, "relaxed_vs_real_mse.png"),
                [r["relaxed_mse"] for r in records],
                [r["real_mse"] for r in records], "relaxed MSE (noise)",
                "real MSE (rounding)", "Distortion: relaxed vs real")
  return summary

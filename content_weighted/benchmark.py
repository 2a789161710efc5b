"""Decoder benchmark: the content-weighted codes coded three ways, by the
fraction of codes the importance map keeps.

    python -m content_weighted.benchmark [--grid 41x61] [--keep 0.1,0.3,...]
        [--repeats 3] [--output decoders.json]

On a code volume of the size of one 481x321 image (a 41x61 grid of 32
channels; Q = 8 levels), with a model of the default sizes and random
weights (speed does not depend on them) and random codes and masks keeping
each fraction of the codes, it times encoding and decoding:

    windows     the file format (`planes.PlaneCoder`): each plane evaluates
                its own causal windows, in one TensorFlow graph
    volume      the same planes with the whole volume through the context
                model at every plane (the form `planes` replaced), in one
                graph: the reference the windows are measured against
    sequential  code by code in causal order (`sequential`, NumPy and
                constriction's range coder)

Each figure is the median of --repeats runs after a warm-up run; every
decoder's output is checked against the codes.
"""

import json

import numpy as np
from absl.flags import argparse_flags

from bls2017.core import commands, images, lazy, timing
from bls2017.core.timing import add_timing_flags, median_seconds

# Loaded at first use: --help and usage errors answer before TensorFlow.
tf = lazy.module("tensorflow")
context = lazy.module("content_weighted.context")
planes = lazy.module("content_weighted.planes")
sequential = lazy.module("content_weighted.sequential")
model_lib = lazy.module("content_weighted.model")


def parse_args(argv):
  parser = argparse_flags.ArgumentParser(
      description=__doc__.split("\n\n", maxsplit=1)[0])
  parser.add_argument("--grid", default="41x61",
                      help="Latent grid HxW (481x321 images give 41x61).")
  parser.add_argument("--keep", default="0.1,0.3,0.6,1.0",
                      help="Fractions of codes kept, comma-separated.")
  parser.add_argument("--seed", type=int, default=0,
                      help="Seed of the weights, codes and masks.")
  add_timing_flags(parser, repeats=3, output="decoders.json")
  args = parser.parse_args(argv[1:])
  try:
    args.grid = tuple(int(n) for n in args.grid.split("x"))
    args.keep = [float(k) for k in args.keep.split(",")]
  except ValueError:
    parser.error(f"--grid {args.grid!r} or --keep {args.keep!r}: not "
                 "numbers as in 41x61 and 0.1,0.5.")
  if len(args.grid) != 2 or min(args.grid) < 1 or not all(
      0 < k <= 1 for k in args.keep):
    parser.error("--grid takes HxW and --keep fractions in (0, 1].")
  return args


class VolumeCoder:
  """The planes coded with the whole volume through the context model at
  every plane: what the windows replaced, kept here as the reference."""

  def __init__(self, context_model, num_levels):
    self.context_model, self.num_levels = context_model, num_levels
    # Wrapped here, not decorated: --help must not load TensorFlow.
    self.encode, self.decode = (tf.function(self._encode),
                                tf.function(self._decode))

  def _cdf(self, decoded, mask, planes_hwc, t):
    logits = context.logits_hwc(self.context_model, decoded[None],
                                mask[None], self.num_levels)[0]
    where = tf.where((planes_hwc == t) & (mask > 0))
    return where, context.quantized_cdf(tf.gather_nd(logits, where))

  def _encode(self, codes, mask):
    height, width, channels = tf.unstack(tf.shape(codes))
    planes_hwc = context.plane_index(height, width, channels)
    strings = tf.TensorArray(tf.string, height + width + channels - 2)
    decoded = tf.zeros_like(codes)
    for t in tf.range(height + width + channels - 2):
      where, cdf = self._cdf(decoded, mask, planes_hwc, t)
      symbols = tf.gather_nd(codes, where)
      strings = strings.write(t, context.range_encode(symbols, cdf))
      decoded = tf.tensor_scatter_nd_update(decoded, where, symbols)
    return strings.stack()

  def _decode(self, strings, mask):
    height, width, channels = tf.unstack(tf.shape(mask))
    planes_hwc = context.plane_index(height, width, channels)
    decoded = tf.zeros(tf.shape(mask), tf.int32)
    for t in tf.range(height + width + channels - 2):
      where, cdf = self._cdf(decoded, mask, planes_hwc, t)
      decoded = tf.tensor_scatter_nd_update(
          decoded, where, context.range_decode(strings[t], cdf))
    return decoded


def _coders(model, mask):
  """{name: (encode(codes), decode(data))} of the three ways."""
  windows = planes.PlaneCoder(model.context_model, model.num_levels)
  encode_w, decode_w = tf.function(windows.encode), tf.function(
      windows.decode)
  volume = VolumeCoder(model.context_model, model.num_levels)

  def sequential_coder():
    return sequential.SequentialCoder(model.context_model, mask)

  return {
      "windows": (lambda c: encode_w(c, mask),
                  lambda d: decode_w(d, mask).numpy()),
      "volume": (lambda c: volume.encode(c, mask),
                 lambda d: volume.decode(d, mask).numpy()),
      "sequential": (lambda c: sequential_coder().encode(c),
                     lambda d: sequential_coder().decode(d))}


def measure(model, grid, keep, repeats, rng):
  """{way: {encode_s, decode_s}} for one kept fraction."""
  shape = (*grid, model.code_channels)
  codes = rng.integers(0, model.num_levels, shape).astype(np.int32)
  mask = (rng.random(shape) < keep).astype(np.float32)
  row = {"kept_codes": int(mask.sum())}
  for name, (encode, decode) in _coders(model, mask).items():
    data = encode(codes)
    if not np.array_equal(decode(data), codes * (mask > 0)):
      raise RuntimeError(f"{name} did not decode the codes.")
    row[name] = {"encode_s": median_seconds(lambda: encode(codes), repeats),
                 "decode_s": median_seconds(lambda: decode(data), repeats)}
  return row


def main(args):
  tf.keras.utils.set_random_seed(args.seed)
  model = model_lib.ContentWeightedModel()
  rng = np.random.default_rng(args.seed)
  results = {"grid": list(args.grid), "code_channels": model.code_channels,
             "num_levels": model.num_levels, "repeats": args.repeats,
             "machine": timing.machine(), "by_kept_fraction": {}}
  for keep in args.keep:
    row = measure(model, args.grid, keep, args.repeats, rng)
    results["by_kept_fraction"][str(keep)] = row
    print(keep, json.dumps(row))
  with images.atomic_output(args.output) as f:
    f.write((json.dumps(results, indent=2) + "\n").encode())


if __name__ == "__main__":
  commands.run_command(main, parse_args)

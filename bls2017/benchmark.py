"""Speed benchmark: model load, warm encode/decode, the commands as a user
runs them, training steps, memory.

    python -m bls2017.benchmark [--model NAME] [--image photo.png]
        [--sizes 768x512,1920x1080] [--repeats 5] [--output benchmark.json]

    python -m bls2017.benchmark --evaluate DIR [--evaluate_count 24]
        [--sizes 768x512] [--output evaluate.json]

Each figure is the median of --repeats runs after one warm-up run. Images
are the given photo (default: matplotlib's sample photograph) resized to
each size. The commands' rows time `bls2017 compress` and `decompress` of
the first size in fresh processes, beside a bare `import tensorflow,
tensorflow_compression` in the same way, and give their ratio to it. Peak
memory is the process's maximum resident set size, so measure one large
size per run to attribute it, e.g.
    python -m bls2017.benchmark --sizes 7680x4320 --repeats 1 --skip_training

--evaluate times one `bls2017 evaluate` run instead, as a user runs it (a
fresh process, the default models and codecs) on the first
--evaluate_count images of DIR centre-cropped to the first size, and gives
the wall seconds of each of its phases (its timings.json).
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl.flags import argparse_flags
from PIL import Image

from bls2017.core import commands, images, lazy, timing
from bls2017.core.timing import add_timing_flags, median_seconds

# Loaded at first use: --help and usage errors answer before TensorFlow.
tf = lazy.module("tensorflow")
codec_lib = lazy.module("bls2017.core.codec")
data = lazy.module("bls2017.core.data")
metrics = lazy.module("bls2017.core.metrics")
paper_model = lazy.module("bls2017.paper.model")

SIZES = "768x512,1920x1080"


def _peak_rss_mib():
  # Linux reports ru_maxrss in KiB.
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_sizes(text):
  """'768x512,1920x1080' -> [(768, 512), (1920, 1080)] (width x height)."""
  try:
    return [tuple(int(n) for n in size.split("x")) for size in
            text.split(",")]
  except ValueError:
    raise SystemExit(f"--sizes {text!r}: expected WxH[,WxH...]") from None


def codec_speed(model, photo, repeats, sizes):
  start = time.perf_counter()
  codec = codec_lib.load(model)
  rows = [{"what": "model load (s)", "seconds": time.perf_counter() - start}]
  source = Image.fromarray(images.read(photo, codec.channels).squeeze())
  for width, height in sizes:
    x = np.asarray(source.resize((width, height), Image.LANCZOS))
    x = x.reshape(height, width, codec.channels)
    data_ = codec.compress(x)
    megapixels = width * height / 1e6
    for what, fn in (("encode", lambda: codec.compress(x)),
                     ("decode", lambda: codec.decompress(data_))):
      seconds = median_seconds(fn, repeats)
      rows.append({"what": f"{what} {width}x{height}", "seconds": seconds,
                   "megapixels_per_second": megapixels / seconds,
                   "bpp": metrics.bpp(len(data_), x)})
  return rows


def training_speed(repeats, patchsize=256, batchsize=8, num_filters=128):
  """Steps per second of the default training configuration."""
  rng = np.random.default_rng(0)
  arrays = [rng.integers(0, 256, (patchsize * 2, patchsize * 2, 3),
                         dtype=np.uint8)]
  batches = iter(data.patch_dataset(arrays, patchsize, batchsize, seed=0))
  model = paper_model.BLS2017Model(num_filters=num_filters)
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-4))
  step = tf.function(model.train_step)
  seconds = median_seconds(lambda: step(next(batches)), repeats)
  return {"what": f"train step ({batchsize}x{patchsize}^2, {num_filters} "
                  "filters)", "seconds": seconds,
          "steps_per_second": 1 / seconds}


def parse_args(argv):
  parser = argparse_flags.ArgumentParser(
      description=__doc__.split("\n")[0])
  parser.add_argument("--model", default=None,
                      help="Model file or shipped name. Default: the "
                      "default shipped model.")
  parser.add_argument("--image", default=None,
                      help="Photo to resize. Default: the sample photo.")
  parser.add_argument("--sizes", default=SIZES,
                      help="Image sizes to encode and decode, WxH,...")
  add_timing_flags(parser, repeats=5, output="benchmark.json")
  parser.add_argument("--skip_training", action="store_true",
                      help="Leave out the training step.")
  parser.add_argument("--evaluate", metavar="DIR", default=None,
                      help="Time `bls2017 evaluate` on images of DIR "
                      "instead of the codec (see above).")
  parser.add_argument("--evaluate_count", type=int, default=24,
                      help="How many images of --evaluate DIR to use.")
  parser.add_argument("--command_repeats", type=int, default=3,
                      help="Timed runs of the commands in fresh processes "
                      "(0: leave them out).")
  return parser.parse_args(argv[1:])


def command_speed(model, photo, size, repeats):
  """Wall seconds of `bls2017 compress` and `decompress` of `photo` resized
  to `size`, each in a fresh process, against a bare import of TensorFlow
  and TFC; medians of `repeats` after a warm-up (which fills the disk
  cache and the commands' SavedModel cache, in a temporary folder). The
  first compress, which exports the model's SavedModels, is timed on its
  own."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  model_flags = ["--model", model] if model else []

  def process(*argv):
    return lambda: subprocess.run([sys.executable, *argv], env=env,
                                  check=True, capture_output=True)

  with tempfile.TemporaryDirectory() as directory:
    env["BLS2017_CACHE"] = os.path.join(directory, "cache")
    png = os.path.join(directory, "photo.png")
    image = Image.open(photo).convert("RGB").resize(size, Image.LANCZOS)
    image.save(png)
    tfci = png + ".tfci"
    bare = median_seconds(process(
        "-c", "import tensorflow, tensorflow_compression"), repeats)
    rows = [{"what": "process: import tensorflow, tfc", "seconds": bare}]
    start = time.perf_counter()
    process("-m", "bls2017", "compress", png, tfci, *model_flags)()
    first = time.perf_counter() - start
    rows.append({"what": f"process: bls2017 compress {size[0]}x{size[1]}, "
                 "first use (exports the SavedModels)", "seconds": first,
                 "ratio_to_import": first / bare})
    for what, argv in (
        ("compress", ["compress", png, tfci]),
        ("decompress", ["decompress", tfci, png + ".out.png"])):
      seconds = median_seconds(
          process("-m", "bls2017", *argv, *model_flags), repeats)
      rows.append({"what": f"process: bls2017 {what} {size[0]}x{size[1]}",
                   "seconds": seconds, "ratio_to_import": seconds / bare})
  return rows


def evaluate_speed(directory, count, size):
  """Wall seconds of `bls2017 evaluate` (default models and codecs, a fresh
  process) on `count` images of `directory` centre-cropped to `size`, and
  of each of its phases."""
  from bls2017.core import evaluation  # pylint: disable=import-outside-toplevel
  width, height = size
  def large_enough(path):
    with Image.open(path) as image:
      return min(np.subtract(image.size, size)) >= 0

  paths = [p for p in evaluation.image_paths(directory)
           if large_enough(p)][:count]
  if len(paths) < count:
    raise SystemExit(f"--evaluate {directory}: {len(paths)} images of at "
                     f"least {width}x{height}, not {count}.")
  with tempfile.TemporaryDirectory() as temporary:
    crops = os.path.join(temporary, "images")
    os.makedirs(crops)
    for i, path in enumerate(paths):
      image = Image.open(path).convert("RGB")
      left, top = (image.width - width) // 2, (image.height - height) // 2
      image.crop((left, top, left + width, top + height)).save(
          os.path.join(crops, f"{i:03d}.png"))
    results = os.path.join(temporary, "results")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bls2017", "evaluate", crops,
                    "--output_dir", results], check=True,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    seconds = time.perf_counter() - start
    with open(os.path.join(results, "timings.json"), encoding="utf-8") as f:
      phases = json.load(f)["phases"]
  what = f"{count} images of {width}x{height}"
  return ([{"what": f"process: bls2017 evaluate, {what}", "seconds": seconds,
            "cpus": os.cpu_count(),
            "images": os.path.basename(os.path.normpath(directory))}] +
          [{"what": f"phase: {name}", "seconds": value}
           for name, value in phases.items()])


def _model_record(name_or_path):
  """Which model was timed: as given, with its fingerprint and width (a
  model file given by path may change later)."""
  from bls2017.core import catalog, model_file  # pylint: disable=import-outside-toplevel
  path = catalog.resolve(name_or_path)
  _, channels, fingerprint = model_file.identity(path)
  return {"model": name_or_path or catalog.default(),
          "fingerprint": fingerprint.hex(), "channels": channels,
          "num_filters": model_file.config_of(path).get("num_filters")}


def main(args):
  photo = args.image or images.sample_photo()
  sizes = parse_sizes(args.sizes)
  if args.evaluate:
    rows = evaluate_speed(args.evaluate, args.evaluate_count, sizes[0])
  else:
    rows = codec_speed(args.model, photo, args.repeats, sizes)
    if args.command_repeats:
      rows += command_speed(args.model, photo, sizes[0],
                            args.command_repeats)
    if not args.skip_training:
      rows.append(training_speed(args.repeats))
    rows.append({"what": "peak memory (MiB)", "mebibytes": _peak_rss_mib()})
  for row in rows:
    figures = "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else
                        f"{k} {v}" for k, v in row.items() if k != "what")
    print(f"{row['what']:<40}{figures}")
  result = {"machine": timing.machine(), "rows": rows}
  if not args.evaluate:
    result["model"] = _model_record(args.model)
  images.write_json(args.output, result)
  print(f"Wrote {args.output}")


if __name__ == "__main__":
  commands.run_command(main, parse_args)

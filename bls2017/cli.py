"""The `bls2017` command: train, compress, decompress, evaluate, export.

    bls2017 train --train_glob='photos/**/*.png' --lambda=0.01 --model_path=m.npz
    bls2017 finalize ladder/*.weights.npz  # JAX trainer output -> model files
    bls2017 compress photo.png            # writes photo.png.tfci
    bls2017 decompress photo.png.tfci     # writes photo.png.tfci.png
    bls2017 export --model_path=m.npz out_dir
    bls2017 models                        # list the shipped models
    bls2017 demo                          # shipped model on a sample photo
    bls2017 relaxed_vs_real photos/       # the paper's figure 4 check
"""

import os

from bls2017 import paper, zoo
from bls2017.core import (baselines, commands, images, lazy, stored_weights,
                          timing, train_config)

# Loaded on first use: parsing the command line needs no TensorFlow.
metrics = lazy.module("bls2017.core.metrics")
model_file = lazy.module("bls2017.core.model_file")
saved_codec = lazy.module("bls2017.core.saved_codec")
relaxed_vs_real = lazy.module("bls2017.paper.relaxed_vs_real")


def _add_train_flags(p):
  p.add_argument("--lambda", dest="lmbda", type=float,
                 help="Weight of the MSE (0..255 scale) against the bit rate;"
                 " higher means higher rate and quality.")
  p.add_argument("--num_filters", type=int,
                 help="Filters per layer. Default: the paper's 192 for RGB, "
                 "128 for grayscale (the shipped models have 128).")
  p.add_argument("--gdn", choices=train_config.GDN_FORMS,
                 help="GDN's form: paper, u / sqrt(beta + sum gamma u^2) "
                 "(the paper's, section 2); simplified, u / (beta + sum "
                 "gamma |u|) (the shipped models'). Stored in the model "
                 "file.")
  p.add_argument("--strategy", choices=train_config.STRATEGIES,
                 help="tf.distribute strategy: one_device (first GPU, else "
                 "CPU), mirrored (all local GPUs; the batch is split), "
                 "multi_worker (the workers in TF_CONFIG).")


def _add_other_parsers(subparsers):
  p = subparsers.add_parser(
      "finalize", help="Make model files of JAX-trained weights files.",
      description="Gives each weights file written by the JAX trainer "
      "(python -m bls2017.jax_twin) its range-coding tables and "
      "fingerprint, as `train` does, and writes it as a model file: "
      "NAME.weights.npz -> NAME.npz beside it, or in --output_dir.")
  p.add_argument("weights_files", nargs="+", metavar="WEIGHTS_FILE",
                 help="Weights file(s) (.weights.npz).")
  p.add_argument("--output_dir", default=None,
                 help="Where to write the model files. Default: beside "
                 "each weights file.")
  p.add_argument("--weights_dtype", choices=stored_weights.FORMATS,
                 default="float16",
                 help="How the model files store the weights: float16 (as "
                 "`train` does), float32, or int8 with per-channel scales "
                 "(half the size).")
  p.set_defaults(command=_finalize)
  p = subparsers.add_parser("models", help="List the shipped models.")
  p.add_argument("--markdown", action="store_true",
                 help="Print the README's table of validation figures.")
  p.set_defaults(command=_models)

  p = subparsers.add_parser(
      "demo", help="Compress a photo with a shipped model and compare to "
      "JPEG at the same file size.")
  p.add_argument("input_file", nargs="?", default=None,
                 help="Image to compress. Default: a photograph shipped "
                 "with matplotlib (grace_hopper.jpg).")
  p.add_argument("--output_dir", default=".",
                 help="Where to write the .tfci, its decoded PNG, the JPEG, "
                 "the crops side by side and the figures as JSON.")
  commands.add_model_flag(p)
  p.set_defaults(command=_demo)

  p = subparsers.add_parser(
      "relaxed_vs_real", help="The paper's figure 4: relaxed against real "
      "rate and MSE.",
      description="On random 128x128 patches of the images: the relaxed "
      "(additive noise) bpp and MSE that training minimises against the "
      "real ones (rounded, range-coded; payload without header). Writes "
      "OUTPUT_DIR/relaxed_vs_real.json and two scatter plots.")
  p.add_argument("images", help="Directory or glob of PNG/JPEG images.")
  p.add_argument("--patches", type=int, default=256,
                 help="How many random patches.")
  p.add_argument("--output_dir", default="rd_out",
                 help="Where to write the JSON and plots.")
  commands.add_model_flag(p)
  p.set_defaults(command=_relaxed_vs_real)


def _finalize(args):
  for path in args.weights_files:
    stem = os.path.basename(path)
    stem = stem[:-len(".weights.npz")] if stem.endswith(".weights.npz") \
        else os.path.splitext(stem)[0] + ".model"
    output = os.path.join(args.output_dir or os.path.dirname(path),
                          stem + ".npz")
    commands.refuse_overwriting_input(path, output)
    if args.output_dir:
      os.makedirs(args.output_dir, exist_ok=True)
    loaded = model_file.finalize(path, output, args.weights_dtype)
    print(f"Wrote {output}: lambda {loaded.model.lmbda:g}, "
          f"{loaded.model.num_filters} filters, {loaded.model.channels} "
          f"channels, fingerprint {loaded.fingerprint.hex()}")


def _models(args):
  if args.markdown:
    from bls2017.docs import tables  # pylint: disable=import-outside-toplevel
    print(tables.zoo_table(zoo.catalog()))
    return
  print(f"{'name':<24}{'ch':>3}{'lambda':>8}{'filters':>8}{'GDN':>11}"
        f"{'steps':>8}{'bpp':>8}{'PSNR':>8}{'MS-SSIM':>9}")
  for name, entry in zoo.catalog().items():
    figures = entry.get("validation", {})
    steps = zoo.total_steps(entry)
    print(f"{name:<24}{entry['channels']:>3}{entry['lambda']:>8g}"
          f"{entry['num_filters']:>8}{zoo.gdn(entry):>11}{steps:>8}"
          f"{figures.get('bpp', float('nan')):>8.3f}"
          f"{figures.get('psnr', float('nan')):>8.2f}"
          f"{figures.get('ms_ssim', float('nan')):>9.4f}")
  print(f"Validation figures: mean over {zoo.VALIDATION_SET}; grayscale "
        "models on their luma. `bls2017/zoo/models.json` has each model's "
        "training command, hardware and wall time.")


def _relaxed_vs_real(args):
  from bls2017.core import evaluation  # pylint: disable=import-outside-toplevel
  if args.patches < 1:
    raise commands.UsageError(f"--patches must be positive, not "
                              f"{args.patches}.")
  paths = evaluation.image_paths(args.images)
  name = args.model_path or zoo.DEFAULT
  summary = relaxed_vs_real.write(
      saved_codec.open_codec(name, keras=True), name, paths,
      args.output_dir, args.patches)
  print(f"Relaxed vs real on {summary['patches']} patches: rate bias "
        f"{summary['rate_bias_bpp']:+.4f} bpp (relaxed "
        f"{summary['mean_relaxed_bpp']:.4f}, real "
        f"{summary['mean_real_bpp']:.4f}); real/relaxed MSE "
        f"{summary['mse_ratio_real_to_relaxed']:.3f}")
  print(f"Wrote {args.output_dir}/relaxed_vs_real.json and its plots")


def _demo(args):
  path = args.input_file or images.sample_photo()
  codec = saved_codec.open_codec(args.model_path, keras=True)
  x = images.read(path, codec.channels)
  stem = os.path.join(args.output_dir, os.path.basename(path))
  os.makedirs(args.output_dir, exist_ok=True)
  data = codec.compress(x)
  x_hat = codec.decompress(data)
  with images.atomic_output(stem + ".tfci") as f:
    f.write(data)
  images.write_png(stem + ".tfci.png", x_hat)
  quality, jpeg = baselines.match_size("jpeg", x, len(data))
  with images.atomic_output(stem + ".jpeg.jpg") as f:
    f.write(jpeg)
  name = args.model_path or zoo.DEFAULT
  print(f"{os.path.basename(path)}: {x.shape[1]}x{x.shape[0]}, model "
        f"{name} (lambda={codec.model.lmbda:g}, {codec.fingerprint.hex()})")
  decoded = {"bls2017": x_hat,
             "jpeg": baselines.decode(jpeg, codec.channels)}
  rows = [_demo_row("bls2017", "bls2017", x, data, x_hat),
          _demo_row("jpeg", f"JPEG q={quality} (<= size)", x, jpeg,
                    decoded["jpeg"], quality=quality)]
  print(f"{'codec':<22}{'bytes':>8}{'bpp':>8}{'PSNR dB':>9}"
        f"{'MS-SSIM':>9}{'(dB)':>7}")
  for row in rows:
    print(f"{row['label']:<22}{row['bytes']:>8}{row['bpp']:>8.3f}"
          f"{row['psnr']:>9.2f}{row['ms_ssim']:>9.4f}{row['ms_ssim_db']:>7.2f}")
  from bls2017.core import plots  # pylint: disable=import-outside-toplevel
  plots.visual_comparison(stem + ".crops.png", [("original", x)] + [
      (f"{row['label']}: {row['bpp']:.3f} bpp, {row['psnr']:.2f} dB",
       decoded[row["codec"]]) for row in rows])
  images.write_json(stem + ".json", {
      "image": os.path.basename(path), "width": x.shape[1],
      "height": x.shape[0], "model": name, "lambda": float(codec.model.lmbda),
      "fingerprint": codec.fingerprint.hex(), "codecs": rows,
      "machine": timing.machine()})
  print(f"Wrote {stem}.tfci, {stem}.tfci.png, {stem}.jpeg.jpg, "
        f"{stem}.crops.png (centre crops side by side) and {stem}.json "
        "(the figures)")


def _demo_row(codec_name, label, x, data, decoded, **setting):
  """One codec's figures on the demo photo: size, bpp, PSNR, MS-SSIM."""
  q = metrics.quality(x, decoded)
  return {"codec": codec_name, "label": label, **setting,
          "bytes": len(data), "bpp": metrics.bpp(len(data), x),
          **{k: float(q[k]) for k in ("psnr", "ms_ssim", "ms_ssim_db")}}


COMMAND = commands.SystemCommand(
    "bls2017", __doc__, paper.Config,
    train_help="Train a model on R + lambda * D.",
    train_description="Trains a model on random patches. Resumes from the "
    "last checkpoint in --train_dir when re-run with the same flags.",
    add_train_flags=_add_train_flags, add_parsers=_add_other_parsers,
    shipped=True, trainer="bls2017.paper.train")
parse_args, main, run = COMMAND.parse_args, COMMAND.main, COMMAND.run


if __name__ == "__main__":
  run()

"""The `bls2017` command: train, compress, decompress, evaluate, export.

    bls2017 train --train_glob='photos/**/*.png' --lambda=0.01 --model_path=m.npz
    bls2017 finalize ladder/*.weights.npz  # JAX trainer output -> model files
    bls2017 compress photo.png            # writes photo.png.tfci
    bls2017 decompress photo.png.tfci     # writes photo.png.tfci.png
    bls2017 export --model_path=m.npz out_dir
    bls2017 models                        # list the shipped models
    bls2017 demo                          # shipped model on a sample photo
"""

import os
import sys

from absl import app
from absl.flags import argparse_flags

from bls2017 import (baselines, images, lazy, patches, stored_weights, tf_log,
                     train_config, user_errors, zoo)

# Loaded on first use: parsing the command line needs no TensorFlow.
bitstream = lazy.module("bls2017.bitstream")
codec_lib = lazy.module("bls2017.codec")
metrics = lazy.module("bls2017.metrics")
model_file = lazy.module("bls2017.model_file")
training = lazy.module("bls2017.train")


def _add_model_flag(parser, required=False):
  parser.add_argument(
      "--model_path", "--model", default=None, required=required,
      help="Model file (.npz) written by `train` (of any system), or the "
      "name of a shipped model (see `bls2017 models`)." +
      ("" if required else " Default: the shipped default model."))


def _add_train_parser(subparsers):
  p = subparsers.add_parser(
      "train", help="Train a model on R + lambda * D.",
      description="Trains a model on random patches. Resumes from the last "
      "checkpoint in --train_dir when re-run with the same flags.")
  add_training_flags(p, "bls2017.npz", patchsize=256)
  p.add_argument("--lambda", dest="lmbda", type=float, default=0.01,
                 help="Weight of the MSE (0..255 scale) against the bit rate;"
                 " higher means higher rate and quality.")
  p.add_argument("--num_filters", type=int, default=None,
                 help="Filters per layer. Default: the paper's 192 for RGB, "
                 "128 for grayscale (the shipped models have 128).")
  p.add_argument("--warm_start", default=None,
                 help="Initialise from this model file (e.g. a neighbouring "
                 "lambda) instead of at random.")
  p.add_argument("--strategy", choices=train_config.STRATEGIES,
                 default="one_device",
                 help="tf.distribute strategy: one_device (first GPU, else "
                 "CPU), mirrored (all local GPUs; the batch is split), "
                 "multi_worker (the workers in TF_CONFIG).")
  p.set_defaults(command=_train)

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


def add_bool_flag(p, name, default, help_text):
  """--NAME / --noNAME, absl's spelling of a boolean flag."""
  p.add_argument(f"--{name}", dest=name, action="store_true", default=default,
                 help=help_text)
  p.add_argument(f"--no{name}", dest=name, action="store_false",
                 help=argparse_flags.argparse.SUPPRESS)


def add_training_flags(p, model_path, patchsize, learning_rate=1e-4):
  """The data, schedule and checkpoint flags every system's `train` has."""
  p.add_argument("--model_path", default=model_path,
                 help="Where to write the trained model file.")
  p.add_argument("--train_dir", default=None,
                 help="Checkpoints and TensorBoard logs. "
                 "Default: MODEL_PATH.train")
  p.add_argument("--train_glob", default=None,
                 help="Glob of training images (PNG/JPEG; ** recurses). "
                 "Without it, the TFDS dataset --tfds_dataset_name is used.")
  p.add_argument("--tfds_dataset_name", default="clic",
                 help="TFDS dataset to train on when --train_glob is unset.")
  p.add_argument("--channels", type=int, choices=(1, 3), default=3,
                 help="3 for RGB, 1 for grayscale models.")
  p.add_argument("--patchsize", type=int, default=patchsize,
                 help="Side of the random square training patches; images "
                 "smaller than this are skipped.")
  p.add_argument("--batchsize", type=int, default=8, help="Patches a step.")
  p.add_argument("--epochs", type=int, default=1000, help="Epochs to train.")
  p.add_argument("--steps_per_epoch", type=int, default=1000,
                 help="Steps per epoch.")
  p.add_argument("--learning_rate", type=float, default=learning_rate,
                 help="Adam learning rate (peak rate with a schedule).")
  p.add_argument("--lr_schedule", choices=train_config.LR_SCHEDULES,
                 default="constant",
                 help="cosine: decay to 1%% of the peak over all steps.")
  p.add_argument("--checkpoint_every", type=int, default=500,
                 help="Steps between checkpoints.")
  p.add_argument("--seed", type=int, default=None,
                 help="Random seed for weights and patches.")
  p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                 help="Keras verbosity: 1 is a progress bar, 2 a line per "
                 "epoch.")


def command_line(program):
  """The command as typed, to record with what it trains."""
  return " ".join([program] + sys.argv[1:])


def _train(args):
  config = train_config.BLS2017Config.from_flags(
      args, command=command_line("bls2017"))
  training.train(config)
  print(f"Wrote {config.model_path}")


def _finalize(args):
  for path in args.weights_files:
    stem = os.path.basename(path)
    stem = stem[:-len(".weights.npz")] if stem.endswith(".weights.npz") \
        else os.path.splitext(stem)[0] + ".model"
    output = os.path.join(args.output_dir or os.path.dirname(path),
                          stem + ".npz")
    _refuse_overwriting_input(path, output)
    if args.output_dir:
      os.makedirs(args.output_dir, exist_ok=True)
    loaded = model_file.finalize(path, output, args.weights_dtype)
    print(f"Wrote {output}: lambda {loaded.model.lmbda:g}, "
          f"{loaded.model.num_filters} filters, {loaded.model.channels} "
          f"channels, fingerprint {loaded.fingerprint.hex()}")


def add_codec_parsers(subparsers, shipped=True):
  """compress, decompress, export, evaluate (+ models, demo if shipped)."""
  p = subparsers.add_parser(
      "compress", help="Compress an image (PNG, JPEG, ...) to a .tfci file.")
  p.add_argument("input_file", help="Image to compress.")
  p.add_argument("output_file", nargs="?",
                 help="Bitstream to write. Default: INPUT_FILE.tfci")
  p.add_argument("-V", "--verbose", action="store_true",
                 help="Decode again and print bpp, PSNR and MS-SSIM.")
  p.add_argument("--target_bpp", type=float, default=None,
                 help="Instead of --model: the highest-rate shipped model "
                 "whose file stays at or under this many bits per pixel on "
                 "this image (grayscale images use the grayscale models).")
  _add_model_flag(p, required=not shipped)
  p.set_defaults(command=_compress)

  p = subparsers.add_parser(
      "decompress", help="Decompress a .tfci file to a PNG image.")
  p.add_argument("input_file", help="Bitstream to decode.")
  p.add_argument("output_file", nargs="?",
                 help="PNG image to write. Default: INPUT_FILE.png")
  _add_model_flag(p, required=not shipped)
  p.set_defaults(command=_decompress)

  p = subparsers.add_parser(
      "export", help="Write Compressor and Decompressor SavedModels.",
      description="Writes OUTPUT_DIR/compressor and OUTPUT_DIR/decompressor."
      " Load them with tf.saved_model.load after `import "
      "tensorflow_compression` (for the range coding ops); their "
      "serving_default signatures map uint8 [H, W, C] images to .tfci bytes "
      "and back.")
  p.add_argument("output_dir", help="Directory to write.")
  _add_model_flag(p, required=not shipped)
  p.set_defaults(command=_export)

  p = subparsers.add_parser(
      "evaluate", help="Rate-distortion figures of models on a set of images.",
      description="Compresses every image to a real bitstream and decodes "
      "it; reports bpp from the file size, PSNR, MS-SSIM, warm encode and "
      "decode seconds and the entropy model's estimate. Sweeps the classical"
      " codecs over their quality settings, finds each one's largest file "
      "not above the model's per image, and computes BD-rates. Writes "
      "OUTPUT_DIR/METHOD.json (CompressAI layout), per_image.csv, "
      "rate_matched.csv, bd.json and RD plots.")
  p.add_argument("images", help="Directory or glob of PNG/JPEG images.")
  p.add_argument("--model", "--model_path", dest="models", action="append",
                 help="Model file or shipped model name; repeat for several."
                 " Default: the shipped RGB models.")
  p.add_argument("--output_dir", default="results",
                 help="Where to write JSON and CSV.")
  p.add_argument("--codecs", default="jpeg,jpeg2000,webp,avif",
                 help="Classical codecs to sweep and rate-match (comma-"
                 "separated; empty for none).")
  p.add_argument("--anchor", default="jpeg",
                 help="Method that BD-rates are computed against.")
  p.add_argument("--relaxed_vs_real", type=int, default=0, metavar="N",
                 help="Also compare relaxed (noise) and real (rounded, "
                 "range-coded) rate and MSE of the first model on N random "
                 "128x128 patches (the paper's figure 4).")
  p.set_defaults(command=_evaluate)

  p = subparsers.add_parser(
      "plot", help="Merge results JSON files; BD-rates and RD plots.",
      description="Reads METHOD.json files written by evaluate (CompressAI "
      "layout), e.g. from separate runs on the same images; files of the "
      "same method are merged into one curve. Writes OUTPUT_DIR/METHOD.json "
      "(points in rate order), bd.json and rd_psnr.png, rd_msssim.png.")
  p.add_argument("results", nargs="+", help="Results JSON files.")
  p.add_argument("--output_dir", default="results",
                 help="Where to write JSON and plots.")
  p.add_argument("--anchor", default="jpeg",
                 help="Method that BD-rates are computed against.")
  p.set_defaults(command=_plot)

  if not shipped:
    return
  p = subparsers.add_parser("models", help="List the shipped models.")
  p.set_defaults(command=_models)

  p = subparsers.add_parser(
      "demo", help="Compress a photo with a shipped model and compare to "
      "JPEG at the same file size.")
  p.add_argument("input_file", nargs="?", default=None,
                 help="Image to compress. Default: a photograph shipped "
                 "with matplotlib (grace_hopper.jpg).")
  p.add_argument("--output_dir", default=".",
                 help="Where to write the .tfci, its decoded PNG and the "
                 "JPEG.")
  _add_model_flag(p, required=not shipped)
  p.set_defaults(command=_demo)


def _print_bd(bd, anchor):
  for method, figures in bd.items():
    print(f"BD vs {anchor}: {method:<10} " + "  ".join(
        f"{k} {v:+.2f} (overlap {figures[k + '_overlap']:.0%})"
        for k, v in figures.items() if not k.endswith("_overlap")))


def _plot(args):
  from bls2017 import evaluation  # pylint: disable=import-outside-toplevel
  try:
    bd = evaluation.merge_results(args.results, args.anchor, args.output_dir)
  except evaluation.ResultsError as e:
    raise UsageError(str(e)) from None
  _print_bd(bd, args.anchor)
  print(f"Wrote {args.output_dir}")


def _compress(args):
  output = args.output_file or args.input_file + ".tfci"
  _refuse_overwriting_input(args.input_file, output)
  if args.target_bpp is not None:
    codec, x, data = _compress_to_target(args)
  else:
    codec = load_codec(args.model_path)
    x = images.read(args.input_file, codec.channels)
    data = codec.compress(x)
  with images.atomic_output(output) as f:
    f.write(data)
  print(f"Wrote {output}: {len(data)} bytes, "
        f"{metrics.bpp(len(data), x):.4f} bpp")
  if args.verbose:
    _print_quality(x, codec.decompress(data), len(data))


def _compress_to_target(args):
  if args.model_path:
    raise UsageError("give either --model or --target_bpp, not both.")
  if not args.target_bpp > 0:
    raise UsageError(f"--target_bpp must be positive, not {args.target_bpp}.")
  names = (zoo.ladder(images.channels_of(args.input_file)) or
           zoo.ladder(3))
  x = images.read(args.input_file, zoo.catalog()[names[0]]["channels"])
  name, codec, data = codec_lib.compress_to_target(x, args.target_bpp,
                                                   names)
  print(f"Model {name} (the highest rate at or under {args.target_bpp:g} "
        "bpp)")
  return codec, x, data


def _decompress(args):
  with open(args.input_file, "rb") as f:
    data = f.read()
  output = args.output_file or args.input_file + ".png"
  _refuse_overwriting_input(args.input_file, output)
  name = args.model_path
  if name is None:
    # Default: the shipped model that wrote the file, if any.
    header, _ = bitstream.unpack(data)
    name = zoo.find(header.fingerprint)
  try:
    x_hat = load_codec(name).decompress(data)
  except bitstream.WrongModelError as e:
    shipped = e.written_by and zoo.find(e.written_by)
    if not shipped:
      raise
    raise bitstream.WrongModelError(
        f"bitstream was written by the shipped model {shipped}, not by "
        f"{name}; pass --model {shipped} (or no --model).",
        e.written_by) from None
  images.write_png(output, x_hat)
  print(f"Wrote {output}: {x_hat.shape[1]}x{x_hat.shape[0]}")


def _export(args):
  from bls2017 import export  # pylint: disable=import-outside-toplevel
  export.export(load_codec(args.model_path), args.output_dir)
  print(f"Wrote {args.output_dir}/compressor and "
        f"{args.output_dir}/decompressor")


def _evaluate(args):
  from bls2017 import evaluation  # pylint: disable=import-outside-toplevel
  paths = evaluation.image_paths(args.images)
  names = args.models or zoo.ladder(3)
  baseline_codecs = [c for c in args.codecs.split(",") if c]
  unknown = set(baseline_codecs) - set(baselines.CODECS)
  if unknown:
    raise UsageError(f"unknown --codecs {', '.join(sorted(unknown))} "
                     f"(known: {', '.join(baselines.CODECS)}).")
  codecs = [load_codec(name) for name in names]
  curves, bd = evaluation.run(codecs, names, paths, baseline_codecs,
                              args.anchor, args.output_dir)
  print(f"{'method':<30}{'bpp':>8}{'est.bpp':>8}{'PSNR':>8}{'MS-SSIM':>9}"
        f"{'(dB)':>7}{'enc s':>8}{'dec s':>8}")
  for method, summaries in curves.items():
    for s in summaries:
      label = s.get("model") or f"{method} q={s['quality']}"
      print(f"{label:<30}{s['bpp']:>8.4f}"
            f"{s.get('estimated_bpp', float('nan')):>8.4f}"
            f"{s['psnr']:>8.2f}{s['ms_ssim']:>9.4f}{s['ms_ssim_db']:>7.2f}"
            f"{s['encoding_time']:>8.4f}{s['decoding_time']:>8.4f}")
  _print_bd(bd, args.anchor)
  if args.relaxed_vs_real:
    summary = evaluation.write_relaxed_vs_real(
        codecs[0], paths, args.output_dir, args.relaxed_vs_real)
    print(f"Relaxed vs real on {summary['patches']} patches: rate bias "
          f"{summary['rate_bias_bpp']:+.4f} bpp (relaxed "
          f"{summary['mean_relaxed_bpp']:.4f}, real "
          f"{summary['mean_real_bpp']:.4f}); real/relaxed MSE "
          f"{summary['mse_ratio_real_to_relaxed']:.3f}")
  print(f"Wrote {args.output_dir}/: per-method JSON, per_image.csv, "
        "rate_matched.csv, bd.json, rd_psnr.png, rd_msssim.png, visual.png")


def _models(args):
  del args
  print(f"{'name':<24}{'ch':>3}{'lambda':>8}{'filters':>8}{'steps':>8}"
        f"{'bpp':>8}{'PSNR':>8}{'MS-SSIM':>9}")
  for name, entry in zoo.catalog().items():
    figures = entry.get("validation", {})
    steps = entry["training"].get("total_steps") or entry["training"]["steps"]
    print(f"{name:<24}{entry['channels']:>3}{entry['lambda']:>8g}"
          f"{entry['num_filters']:>8}{steps:>8}"
          f"{figures.get('bpp', float('nan')):>8.3f}"
          f"{figures.get('psnr', float('nan')):>8.2f}"
          f"{figures.get('ms_ssim', float('nan')):>9.4f}")
  print(f"Validation figures: mean over {zoo.VALIDATION_SET}; grayscale "
        "models on their luma. `bls2017/zoo/models.json` has each model's "
        "training command, hardware and wall time.")


def _demo(args):
  path = args.input_file or images.sample_photo()
  codec = load_codec(args.model_path)
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
  print(f"{os.path.basename(path)}: {x.shape[1]}x{x.shape[0]}, model "
        f"{args.model_path or zoo.DEFAULT} "
        f"(lambda={codec.model.lmbda:g}, {codec.fingerprint.hex()})")
  print(f"{'codec':<22}{'bytes':>8}{'bpp':>8}{'PSNR dB':>9}"
        f"{'MS-SSIM':>9}{'(dB)':>7}")
  panels = [("original", x)]
  for label, size, decoded in (
      ("bls2017", len(data), x_hat),
      (f"JPEG q={quality} (<= size)", len(jpeg),
       baselines.decode(jpeg, codec.channels))):
    q = metrics.quality(x, decoded)
    print(f"{label:<22}{size:>8}{metrics.bpp(size, x):>8.3f}"
          f"{q['psnr']:>9.2f}{q['ms_ssim']:>9.4f}{q['ms_ssim_db']:>7.2f}")
    panels.append((f"{label}: {metrics.bpp(size, x):.3f} bpp, "
                   f"{q['psnr']:.2f} dB", decoded))
  from bls2017 import plots  # pylint: disable=import-outside-toplevel
  plots.visual_comparison(stem + ".crops.png", panels)
  print(f"Wrote {stem}.tfci, {stem}.tfci.png, {stem}.jpeg.jpg, and "
        f"{stem}.crops.png (centre crops side by side)")


def load_codec(name_or_path):
  return codec_lib.load(name_or_path)


def _print_quality(x, x_hat, num_bytes):
  q = metrics.quality(x, x_hat)
  print(f"bpp {metrics.bpp(num_bytes, x):.4f}  PSNR {q['psnr']:.2f} dB  "
        f"SSIM {q['ssim']:.4f}  "
        f"MS-SSIM {q['ms_ssim']:.4f} ({q['ms_ssim_db']:.2f} dB)")


def _refuse_overwriting_input(input_file, output_file):
  if os.path.exists(output_file) and os.path.samefile(input_file,
                                                      output_file):
    raise UsageError(f"{output_file}: output would overwrite the input.")


class UsageError(ValueError):
  """A command-line request that cannot be carried out as given."""


def add_ablation_parser(subparsers, what, load, run_ablation):
  """The related systems' `ablation` command.

  load(path) -> codec; run_ablation(codecs, names, paths, output) -> {name:
  figures} (each system's `ablation.run`).
  """
  p = subparsers.add_parser(
      "ablation", help="The paper's ablation on a set of images.",
      description=f"For each model ({what}); writes JSON.")
  p.add_argument("images", help="Directory or glob of PNG/JPEG images.")
  p.add_argument("--model", "--model_path", dest="models", action="append",
                 required=True, help="Model file; repeat for several.")
  p.add_argument("--output", default="ablation.json",
                 help="JSON file to write.")

  def ablation(args):
    from bls2017 import evaluation  # pylint: disable=import-outside-toplevel
    paths = evaluation.image_paths(args.images)
    codecs = [load(name) for name in args.models]
    results = run_ablation(codecs, args.models, paths, args.output)
    for name, figures in results.items():
      print(name, "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else
                            f"{k} {v}" for k, v in figures.items()))
    print(f"Wrote {args.output}")
  p.set_defaults(command=ablation)


def command_parser(doc, add_train_parser, shipped=True):
  """parse_args(argv) for a system's command: `train` + the codec commands.

  doc: the command module's docstring (first line: description; the rest:
  usage examples).
  """
  def parse_args(argv):
    parser = argparse_flags.ArgumentParser(
        description=doc.split("\n")[0],
        formatter_class=argparse_flags.argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n", 1)[1])
    subparsers = parser.add_subparsers(
        title="commands", dest="command_name", required=True)
    add_train_parser(subparsers)
    add_codec_parsers(subparsers, shipped)
    return parser.parse_args(argv[1:])
  return parse_args


parse_args = command_parser(__doc__, _add_train_parser)


def user_error_types():
  """What a user can cause by bad input: one line and exit status 1."""
  return (bitstream.BitstreamError, images.ImageError,
          model_file.ModelFileError, patches.DataError, UsageError,
          codec_lib.TargetRateError, FloatingPointError, OSError)


def main(args):
  run_reporting_errors(args, "bls2017", user_error_types())


def run_reporting_errors(args, program, errors):
  """Runs args.command; an error in `errors` is one line and exit status 1."""
  try:
    args.command(args)
  except errors as e:
    user_errors.exit_with(f"{program} {args.command_name}", e)


def run_command(main_function, parse):
  """Runs an absl command: usage errors and --help are answered before
  TensorFlow loads (quietly, see tf_log), then `main_function`."""
  parse(sys.argv)
  tf_log.quiet_unless_asked()
  lazy.import_tensorflow()
  app.run(main_function, flags_parser=parse)


def run():
  run_command(main, parse_args)


if __name__ == "__main__":
  run()

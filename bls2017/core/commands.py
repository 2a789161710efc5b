"""What every system's command shares: the coding commands (compress,
decompress, export, evaluate, plot, ablation), the training flags, and
running a command (flags parsed before TensorFlow loads, one-line errors).

    argv --command_parser--> args (absl argparse_flags; --help without TF)
         --run_command--> TensorFlow loaded quietly (tf_log)
         --run_reporting_errors--> args.command(args); a user error is one
                                   line naming it and exit status 1

A system's command (`bls2017.cli`, `cae_admm.cli`, ...) adds its own
`train` (and any other) subcommands; the rest comes from here.
"""

import dataclasses
import os
import sys

from absl import app
from absl.flags import argparse_flags

from bls2017.core import (baselines, catalog, images, lazy, patches, tf_log,
                          train_config, user_errors)

# Loaded on first use: parsing the command line needs no TensorFlow.
bitstream = lazy.module("bls2017.core.bitstream")
metrics = lazy.module("bls2017.core.metrics")
model_file = lazy.module("bls2017.core.model_file")
saved_codec = lazy.module("bls2017.core.saved_codec")


def add_model_flag(parser, required=False):
  parser.add_argument(
      "--model_path", "--model", default=None, required=required,
      help="Model file (.npz) written by `train` (of any system), or the "
      "name of a shipped model (see `bls2017 models`)." +
      ("" if required else " Default: the shipped default model."))


def add_bool_flag(p, name, help_text):
  """--NAME / --noNAME, absl's spelling of a boolean flag (its default:
  the config's, `use_config_defaults`)."""
  p.add_argument(f"--{name}", dest=name, action="store_true",
                 help=help_text)
  p.add_argument(f"--no{name}", dest=name, action="store_false",
                 help=argparse_flags.argparse.SUPPRESS)


def add_training_flags(p):
  """The data, schedule and checkpoint flags every system's `train` has;
  their defaults are its config's (`use_config_defaults`)."""
  p.add_argument("--model_path",
                 help="Where to write the trained model file.")
  p.add_argument("--train_dir",
                 help="Checkpoints and TensorBoard logs. "
                 "Default: MODEL_PATH.train")
  p.add_argument("--train_glob",
                 help="Glob of training images (PNG/JPEG; ** recurses). "
                 "Without it, the TFDS dataset --tfds_dataset_name is used.")
  p.add_argument("--tfds_dataset_name",
                 help="TFDS dataset to train on when --train_glob is unset.")
  p.add_argument("--channels", type=int, choices=(1, 3),
                 help="3 for RGB, 1 for grayscale models.")
  p.add_argument("--patchsize", type=int,
                 help="Side of the random square training patches; images "
                 "smaller than this are skipped.")
  p.add_argument("--batchsize", type=int, help="Patches a step.")
  p.add_argument("--epochs", type=int, help="Epochs to train.")
  p.add_argument("--steps_per_epoch", type=int,
                 help="Steps per epoch.")
  p.add_argument("--learning_rate", type=float,
                 help="Adam learning rate (peak rate with a schedule).")
  p.add_argument("--lr_schedule", choices=train_config.LR_SCHEDULES,
                 help="cosine: decay to 1%% of the peak over all steps; "
                 "plateau: halve the rate when the training loss has not "
                 "fallen for --plateau_patience epochs (down to 1%%).")
  p.add_argument("--plateau_patience", type=int,
                 help="Epochs without a lower loss before --lr_schedule "
                 "plateau halves the rate.")
  add_bool_flag(p, "flips", "Flip training patches at random, "
                "horizontally and vertically.")
  p.add_argument("--checkpoint_every", type=int,
                 help="Steps between checkpoints.")
  p.add_argument("--warm_start",
                 help="Initialise from this model file of the same system "
                 "and architecture (e.g. a neighbouring rate) instead of at "
                 "random; the model file records its steps in its total.")
  p.add_argument("--seed", type=int,
                 help="Random seed for weights and patches.")
  p.add_argument("--verbose", type=int, choices=(0, 1, 2),
                 help="Keras verbosity: 1 is a progress bar, 2 a line per "
                 "epoch.")


def use_config_defaults(p, config_class):
  """Each flag of `p` named after a field of `config_class` (a dataclass)
  defaults to that field's default: every default is stated once, in the
  config."""
  fields = {f.name: f.default for f in dataclasses.fields(config_class)
            if f.default is not dataclasses.MISSING}
  p.set_defaults(**{action.dest: fields[action.dest]
                    for action in p._actions if action.dest in fields})  # pylint: disable=protected-access


def command_line(program):
  """The command as typed, to record with what it trains."""
  return " ".join([program] + sys.argv[1:])


def add_codec_parsers(subparsers, shipped=True):
  """compress, decompress, export, evaluate, plot. shipped: the command
  has shipped models (a default --model, --target_bpp)."""
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
  add_model_flag(p, required=not shipped)
  p.set_defaults(command=_compress)

  p = subparsers.add_parser(
      "decompress", help="Decompress a .tfci file to a PNG image.")
  p.add_argument("input_file", help="Bitstream to decode.")
  p.add_argument("output_file", nargs="?",
                 help="PNG image to write. Default: INPUT_FILE.png")
  add_model_flag(p, required=not shipped)
  p.set_defaults(command=_decompress)

  p = subparsers.add_parser(
      "export", help="Write Compressor and Decompressor SavedModels.",
      description="Writes OUTPUT_DIR/compressor and OUTPUT_DIR/decompressor."
      " Load them with tf.saved_model.load after `import "
      "tensorflow_compression` (for the range coding ops); their "
      "serving_default signatures map uint8 [H, W, C] images to .tfci bytes "
      "and back.")
  p.add_argument("output_dir", help="Directory to write.")
  add_model_flag(p, required=not shipped)
  p.set_defaults(command=_export)

  p = subparsers.add_parser(
      "evaluate", help="Rate-distortion figures of models on a set of images.",
      description="Compresses every image to a real bitstream and decodes "
      "it; reports bpp from the file size, PSNR, MS-SSIM, warm encode and "
      "decode seconds and the entropy model's estimate. Sweeps the classical"
      " codecs over their quality settings, finds each one's largest file "
      "not above the model's per image, and computes BD-rates. Writes "
      "OUTPUT_DIR/METHOD.json (CompressAI layout), per_image.csv, "
      "rate_matched.csv, bd.json, RD plots, training.json (each model's "
      "training steps, warm start and seconds, from its file) and "
      "timings.json (wall seconds of each phase).")
  p.add_argument("images", help="Directory or glob of PNG/JPEG images.")
  p.add_argument("--model", "--model_path", dest="models", action="append",
                 help="Model file or shipped model name; repeat for several."
                 " Default: the shipped RGB models.")
  p.add_argument("--output_dir", default="rd_out",
                 help="Where to write JSON and CSV.")
  p.add_argument("--codecs", default="jpeg,jpeg2000,webp,avif",
                 help="Classical codecs to sweep and rate-match (comma-"
                 "separated; empty for none).")
  p.add_argument("--anchor", default="jpeg",
                 help="Methods that BD-rates are computed against (comma-"
                 "separated): bd.json against the first, bd_ANCHOR.json "
                 "against each other.")
  p.add_argument("--reference", dest="references", action="append",
                 default=[], metavar="FILE",
                 help="A published curve (results JSON in CompressAI's "
                 "layout with a \"source\"), drawn in the plots and "
                 "compared by BD-rate; repeat for several.")
  p.set_defaults(command=_evaluate)

  p = subparsers.add_parser(
      "plot", help="Merge results JSON files; BD-rates and RD plots.",
      description="Reads METHOD.json files written by evaluate (CompressAI "
      "layout), e.g. from separate runs on the same images; files of the "
      "same method are merged into one curve. Writes OUTPUT_DIR/METHOD.json "
      "(points in rate order), bd.json and rd_psnr.png, rd_msssim.png.")
  p.add_argument("results", nargs="+", help="Results JSON files.")
  p.add_argument("--output_dir", default="rd_out",
                 help="Where to write JSON and plots.")
  p.add_argument("--anchor", default="jpeg",
                 help="Methods that BD-rates are computed against (comma-"
                 "separated): bd.json against the first, bd_ANCHOR.json "
                 "against each other.")
  p.set_defaults(command=_plot)

def _print_bd(bd):
  for anchor, methods in bd.items():
    for method, figures in methods.items():
      print(f"BD vs {anchor}: {method:<10} " + "  ".join(
          f"{k} {v:+.2f} (overlap {figures[k + '_overlap']:.0%})"
          for k, v in figures.items() if not k.endswith("_overlap")))


def _anchors(args):
  anchors = [a for a in args.anchor.split(",") if a]
  if not anchors:
    raise UsageError("--anchor names no method.")
  return anchors


def _plot(args):
  from bls2017.core import evaluation  # pylint: disable=import-outside-toplevel
  try:
    bd = evaluation.merge_results(args.results, _anchors(args),
                                  args.output_dir)
  except evaluation.ResultsError as e:
    raise UsageError(str(e)) from None
  _print_bd(bd)
  print(f"Wrote {args.output_dir}")


def _compress(args):
  output = args.output_file or args.input_file + ".tfci"
  refuse_overwriting_input(args.input_file, output)
  if args.target_bpp is not None:
    codec, x, data = _compress_to_target(args)
  else:
    codec = saved_codec.open_codec(args.model_path)
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
  names = (catalog.ladder(images.channels_of(args.input_file)) or
           catalog.ladder(3))
  x = images.read(args.input_file, catalog.entries()[names[0]]["channels"])
  name, codec, data = saved_codec.compress_to_target(x, args.target_bpp,
                                                     names)
  print(f"Model {name} (the highest rate at or under {args.target_bpp:g} "
        "bpp)")
  return codec, x, data


def _decompress(args):
  with open(args.input_file, "rb") as f:
    data = f.read()
  output = args.output_file or args.input_file + ".png"
  refuse_overwriting_input(args.input_file, output)
  # The header is parsed once: against the given model, or to find the
  # shipped model that wrote it (the default).
  if args.model_path:
    codec = saved_codec.open_codec(args.model_path)
    try:
      header, _ = bitstream.unpack(data, codec.fingerprint, codec.magic)
    except bitstream.WrongModelError as e:
      shipped = catalog.find(e.written_by)
      if not shipped:
        raise
      raise bitstream.WrongModelError(
          f"bitstream was written by the shipped model {shipped}, not by "
          f"{args.model_path}; pass --model {shipped} (or no --model).",
          e.written_by) from None
  else:
    header, _ = bitstream.unpack(data)
    codec = saved_codec.open_codec(catalog.find(header.fingerprint))
  x_hat = codec.decompress(data, header)
  images.write_png(output, x_hat)
  print(f"Wrote {output}: {x_hat.shape[1]}x{x_hat.shape[0]}")


def _export(args):
  from bls2017.core import export  # pylint: disable=import-outside-toplevel
  export.export(saved_codec.open_codec(args.model_path, keras=True),
                args.output_dir)
  print(f"Wrote {args.output_dir}/compressor and "
        f"{args.output_dir}/decompressor")


def _evaluate(args):
  from bls2017.core import evaluation  # pylint: disable=import-outside-toplevel
  paths = evaluation.image_paths(args.images)
  names = args.models or catalog.ladder(3)
  baseline_codecs = [c for c in args.codecs.split(",") if c]
  unknown = set(baseline_codecs) - set(baselines.CODECS)
  if unknown:
    raise UsageError(f"unknown --codecs {', '.join(sorted(unknown))} "
                     f"(known: {', '.join(baselines.CODECS)}).")
  anchors = _anchors(args)
  try:  # Read before the long work: a bad file fails at once.
    evaluation.read_results(args.references)
  except evaluation.ResultsError as e:
    raise UsageError(str(e)) from None
  codecs = [saved_codec.open_codec(name, keras=True) for name in names]
  curves, bd = evaluation.run(codecs, names, paths, baseline_codecs,
                              anchors, args.output_dir,
                              references=args.references)
  print(f"{'method':<30}{'bpp':>8}{'est.bpp':>8}{'PSNR':>8}{'MS-SSIM':>9}"
        f"{'(dB)':>7}{'enc s':>8}{'dec s':>8}")
  for method, summaries in curves.items():
    for s in summaries:
      label = s.get("model") or f"{method} q={s['quality']}"
      print(f"{label:<30}{s['bpp']:>8.4f}"
            f"{s.get('estimated_bpp', float('nan')):>8.4f}"
            f"{s['psnr']:>8.2f}{s['ms_ssim']:>9.4f}{s['ms_ssim_db']:>7.2f}"
            f"{s['encoding_time']:>8.4f}{s['decoding_time']:>8.4f}")
  _print_bd(bd)
  print(f"Wrote {args.output_dir}/: per-method JSON, per_image.csv, "
        "rate_matched.csv, bd.json, rd_psnr.png, rd_msssim.png, visual.png, "
        "timings.json")


def _print_quality(x, x_hat, num_bytes):
  q = metrics.quality(x, x_hat)
  print(f"bpp {metrics.bpp(num_bytes, x):.4f}  PSNR {q['psnr']:.2f} dB  "
        f"SSIM {q['ssim']:.4f}  "
        f"MS-SSIM {q['ms_ssim']:.4f} ({q['ms_ssim_db']:.2f} dB)")


def refuse_overwriting_input(input_file, output_file):
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
    from bls2017.core import evaluation  # pylint: disable=import-outside-toplevel
    paths = evaluation.image_paths(args.images)
    codecs = [load(name) for name in args.models]
    # Results name models by file name (no folders of this machine in
    # them), by path where two file names are the same.
    names = [os.path.basename(path) for path in args.models]
    if len(set(names)) < len(names):
      names = args.models
    results = run_ablation(codecs, names, paths, args.output)
    for name, figures in results.items():
      print(name, "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else
                            f"{k} {v}" for k, v in figures.items()
                            if k != "vs_first"))
      differences = figures.get("vs_first", {})
      for k, d in differences.items():
        if k != "model":
          print(f"  {k} {d['mean']:+.4f} [{d['ci95'][0]:+.4f}, "
                f"{d['ci95'][1]:+.4f}] (95 % CI) vs {differences['model']}")
    print(f"Wrote {args.output}")
  p.set_defaults(command=ablation)


class SystemCommand:
  """The command of a system (`bls2017`, `cae_admm`, `content_weighted`):
  `train` (the shared training flags and the system's, filled into its
  `config` and run by TRAINER.train), `ablation` (PACKAGE.ablation.run) if
  it has one, any subcommands of its own, and the coding commands.

  package: the system's package, also the command's name.
  doc: the command's description, then its `train` example.
  config: its config dataclass, where every flag's default is stated.
  add_train_flags(parser): the flags of its `train` beyond the shared ones.
  ablation_what: what its ablation compares (None: it has none).
  add_parsers(subparsers): its own subcommands (the paper's demo, ...).
  shipped: it ships models (a default --model, --target_bpp).
  trainer: the module with its `train(config)`; default PACKAGE.train.
  """

  def __init__(self, package, doc, config, train_help, train_description,
               add_train_flags, ablation_what=None, add_parsers=None,
               shipped=False, trainer=None):
    self.package = package
    self.config = config
    self.train_help = train_help
    self.train_description = train_description
    self.add_train_flags = add_train_flags
    self.ablation_what = ablation_what
    self.add_parsers = add_parsers
    # Loaded on first use: parsing the command line needs no TensorFlow.
    self.trainer = lazy.module(trainer or f"{package}.train")
    if ablation_what:
      self.codec = lazy.module(f"{package}.codec")
      self.ablation = lazy.module(f"{package}.ablation")
    epilog = "" if shipped else f"""
    {package} compress --model_path=m.npz photo.png     # photo.png.tfci
    {package} decompress --model_path=m.npz photo.png.tfci
    {package} evaluate --model m.npz --model bls2017-mse-4 photos/

compress, decompress, export, evaluate and plot are the coding commands
every system's command shares; they take the model file of any system.
"""
    self.parse_args = command_parser(doc.rstrip() + "\n" + epilog,
                                     self._add_parsers, shipped=shipped)

  def _add_parsers(self, subparsers):
    p = subparsers.add_parser("train", help=self.train_help,
                              description=self.train_description)
    add_training_flags(p)
    self.add_train_flags(p)
    use_config_defaults(p, self.config)
    p.set_defaults(command=self._train)
    if self.ablation_what:
      add_ablation_parser(subparsers, self.ablation_what,
                          lambda name: self.codec.load(name),
                          lambda *args: self.ablation.run(*args))
    if self.add_parsers:
      self.add_parsers(subparsers)

  def _train(self, args):
    config = self.config.from_flags(args,
                                    command=command_line(self.package))
    self.trainer.train(config)
    print(f"Wrote {config.model_path}")

  def main(self, args):
    run_reporting_errors(args, self.package, user_error_types())

  def run(self):
    run_command(self.main, self.parse_args)


def command_parser(doc, add_system_parsers, shipped=True):
  """parse_args(argv) for a system's command: its own subcommands
  (add_system_parsers(subparsers): `train`, ...) + the coding commands.

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
    add_system_parsers(subparsers)
    add_codec_parsers(subparsers, shipped)
    return parser.parse_args(argv[1:])
  return parse_args


def user_error_types():
  """What a user can cause by bad input: one line and exit status 1."""
  return (bitstream.BitstreamError, images.ImageError,
          model_file.ModelFileError, patches.DataError, UsageError,
          saved_codec.TargetRateError, FloatingPointError, OSError)


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



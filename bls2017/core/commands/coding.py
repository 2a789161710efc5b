"""The coding commands every system's command has: compress, decompress,
export, evaluate, plot (`add_codec_parsers`). Each obtains its codec from
`saved_codec.open_codec` and takes the model file of any system.
"""

from bls2017.core import baselines, catalog, images, lazy, model_file
from bls2017.core import systems
from bls2017.core.commands.toolkit import (UsageError, add_model_flag,
                                           refuse_overwriting_input)

# Loaded on first use: parsing the command line needs no TensorFlow.
bitstream = lazy.module("bls2017.core.bitstream")
metrics = lazy.module("bls2017.core.metrics")
saved_codec = lazy.module("bls2017.core.saved_codec")


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
  # The header is parsed once, before any model is opened (a file of
  # another format version is refused without building a codec); then
  # checked against the given model, or used to find the shipped model that
  # wrote it (the default).
  if not args.model_path:
    header, _ = bitstream.unpack(data)
    codec = saved_codec.open_codec(_shipped_writer(header.fingerprint))
  else:
    header, _ = bitstream.unpack(data, magic=_magic_of(args.model_path))
    codec = saved_codec.open_codec(args.model_path)
    try:
      bitstream.check_written_by(header, codec.fingerprint, codec.magic)
    except bitstream.WrongModelError as e:
      shipped = _shipped_writer(e.written_by)
      if not shipped:
        raise
      raise bitstream.WrongModelError(
          f"bitstream was written by the shipped model {shipped}, not by "
          f"{args.model_path}; pass --model {shipped} (or no --model).",
          e.written_by) from None
  x_hat = codec.decompress(data, header)
  images.write_png(output, x_hat)
  print(f"Wrote {output}: {x_hat.shape[1]}x{x_hat.shape[0]}")


def _shipped_writer(fingerprint):
  """The shipped model that wrote a bitstream, or None; a model shipped
  once and replaced since is refused by name, with the revision that has
  its file (a WrongModelError)."""
  name = catalog.find(fingerprint)
  replaced = None if name else catalog.find_replaced(fingerprint)
  if replaced:
    where = (f"revision {replaced['revision'][:12]} of this project"
             if replaced.get("revision") else "a release that shipped it")
    raise bitstream.WrongModelError(
        f"bitstream was written by {replaced['name']} as shipped before it "
        f"was replaced (model {fingerprint.hex()}); decode it with --model "
        f"and that model's file from {where}.", fingerprint)
  return name


def _magic_of(name_or_path):
  """The magic bytes of a model's system, read from its file's config."""
  path = catalog.resolve(name_or_path)
  return systems.by_name(model_file.system_of(path)).magic


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

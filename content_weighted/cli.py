"""The `content_weighted` command: train an importance-map + context model.

    content_weighted train --train_glob='photos/**/*.png' --lambda=0.01 \\
        --model_path=cw.npz
    content_weighted compress --model_path=cw.npz photo.png   # photo.png.tfci
    content_weighted decompress --model_path=cw.npz photo.png.tfci
    content_weighted evaluate --model cw.npz --model bls2017-mse-4 photos/

compress, decompress, export and evaluate are bls2017's commands; they
take the model file of any system.
"""

from bls2017 import cli as bls2017_cli
from bls2017 import lazy
from content_weighted import MASK_GRADIENTS

# Loaded on first use: parsing the command line needs no TensorFlow.
ablation = lazy.module("content_weighted.ablation")
codec = lazy.module("content_weighted.codec")
trainer = lazy.module("content_weighted.train")


def _add_train_parser(subparsers):
  p = subparsers.add_parser(
      "train", help="Train on R_proxy + lambda * MSE (+ the context model).",
      description="Trains encoder, importance map, quantizer, decoder and "
      "context model on random patches, then fits the importance map's "
      "factorized tables on training patches. Resumes from the last "
      "checkpoint in --train_dir when re-run with the same flags.")
  bls2017_cli.add_training_flags(p, "content_weighted.npz", patchsize=128,
                                 learning_rate=1e-4)
  p.add_argument("--lambda", dest="lmbda", type=float, default=0.01,
                 help="Weight of the MSE (0..255 scale) against the rate "
                 "proxy (bits of the kept codes per pixel).")
  bls2017_cli.add_bool_flag(
      p, "importance_map", True, "Allot codes by the importance map "
      "(default); --noimportance_map keeps every code everywhere (the "
      "paper's ablation).")
  p.add_argument("--mask_gradient", choices=MASK_GRADIENTS,
                 default="band", help="Straight-through gradient of the "
                 "mask: through the last kept and first dropped group (band)"
                 " or the last kept group only (last_group, which lets the "
                 "rate fall whatever lambda; kept to reproduce older runs).")
  p.add_argument("--num_filters", type=int, default=64,
                 help="Filters per layer.")
  p.add_argument("--code_channels", type=int, default=32,
                 help="Channels of the code (at 1/8 resolution).")
  p.add_argument("--groups", type=int, default=16,
                 help="L: channel groups the importance map allots.")
  p.add_argument("--num_levels", type=int, default=8,
                 help="Q: learned quantization levels per channel.")
  p.set_defaults(command=_train)

  bls2017_cli.add_ablation_parser(
      subparsers, "importance map on/off, context vs factorized model: bpp, "
      "PSNR, kept codes, bits under each model; seconds and size with "
      "plane-by-plane and code-by-code decoding",
      # Deferred: naming codec.load here would load TensorFlow.
      lambda name: codec.load(name), lambda *args: ablation.run(*args))


def _train(args):
  config = trainer.Config.from_flags(
      args, command=bls2017_cli.command_line("content_weighted"))
  trainer.train(config)
  print(f"Wrote {config.model_path}")


parse_args = bls2017_cli.command_parser(__doc__, _add_train_parser,
                                        shipped=False)


def main(args):
  bls2017_cli.run_reporting_errors(args, "content_weighted",
                                   bls2017_cli.user_error_types())


def run():
  bls2017_cli.run_command(main, parse_args)


if __name__ == "__main__":
  run()

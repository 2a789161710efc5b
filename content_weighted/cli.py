"""The `content_weighted` command: train an importance-map + context model.

    content_weighted train --train_glob='photos/**/*.png' --lambda=0.01 \\
        --model_path=cw.npz
"""

from bls2017.core import commands
from content_weighted import MAP_MODELS, MASK_GRADIENTS, TRANSFORMS
from content_weighted.config import Config


def _add_train_flags(p):
  p.add_argument("--lambda", dest="lmbda", type=float,
                 help="Weight of the MSE (0..255 scale) against the rate "
                 "proxy (bits of the kept codes per pixel).")
  commands.add_bool_flag(
      p, "importance_map", "Allot codes by the importance map "
      "(default); --noimportance_map keeps every code everywhere (the "
      "paper's ablation).")
  p.add_argument("--mask_gradient", choices=MASK_GRADIENTS,
                 help="Straight-through gradient of the mask: through the last kept and first dropped group (band)"
                 " or the last kept group only (last_group, which lets the "
                 "rate fall whatever lambda; kept to reproduce older runs).")
  p.add_argument("--relaxed_fraction", type=float,
                 help="Two-stage training: the first share of the steps "
                 "on the mask's continuous relaxation clip(L p - l, 0, 1), "
                 "the rest on the binary mask with --mask_gradient "
                 "(0: binary throughout).")
  p.add_argument("--transform", choices=TRANSFORMS,
                 help="Encoder/decoder: the shared GDN stack (gdn) or "
                 "convolutions with dense blocks (dense).")
  p.add_argument("--map_model", choices=MAP_MODELS,
                 help="How the importance map is coded: under factorized "
                 "tables fitted after training (factorized), or by the "
                 "context model, the map as the first slice of its volume "
                 "with a head of its own (context).")
  p.add_argument("--code_channels", type=int,
                 help="Channels of the code (at 1/8 resolution).")
  p.add_argument("--groups", type=int,
                 help="L: channel groups the importance map allots.")
  p.add_argument("--num_levels", type=int,
                 help="Q: learned quantization levels per channel.")
  p.add_argument("--num_filters", type=int, help="Filters per layer.")


COMMAND = commands.SystemCommand(
    "content_weighted", __doc__, Config,
    train_help="Train on R_proxy + lambda * MSE (+ the context model).",
    train_description="Trains encoder, importance map, quantizer, decoder and "
      "context model on random patches, then fits the importance map's "
      "factorized tables on training patches. Resumes from the last "
      "checkpoint in --train_dir when re-run with the same flags.",
    add_train_flags=_add_train_flags,
    ablation_what="importance map on/off, context vs factorized model, "
      "training mechanisms: bpp, PSNR, SSIM, MS-SSIM, kept codes, bits "
      "under each model, the map's bits; seconds and size with "
      "plane-by-plane and code-by-code decoding")
parse_args, main, run = COMMAND.parse_args, COMMAND.main, COMMAND.run

if __name__ == "__main__":
  run()

"""The `cae_admm` command: train a CAE-ADMM model; code images with it.

    cae_admm train --train_glob='photos/**/*.png' --keep_fraction=0.1 \\
        --model_path=cae.npz
"""

from bls2017.core import commands
from cae_admm import ADMM_MODES
from cae_admm.config import Config


def _add_train_flags(p):
  p.add_argument("--keep_fraction", type=float,
                 help="l as a fraction of the latents kept non-zero "
                 "(paper: 0.1); sets the rate.")
  p.add_argument("--rho", type=float,
                 help="ADMM penalty weight rho (per pixel, against the MSE "
                 "on the 0..255 scale).")
  p.add_argument("--admm_every_epochs", type=int,
                 help="K: epochs between the Z- and U-steps of every "
                 "training crop (Z <- Pi(z + U), U <- U + z - Z). With an "
                 "ADMM term, training cycles through a fixed set of "
                 "steps_per_epoch * batchsize crops, each with its own Z and "
                 "U (held in memory and checkpoints: 2 floats per latent).")
  p.add_argument("--retrain_fraction", type=float,
                 help="Last fraction of the steps in which the decoder sees "
                 "the pruned latents (masked retraining after ADMM).")
  commands.add_bool_flag(
      p, "pruning", "Train with the ADMM schedule and prune when "
      "coding (default); --nopruning trains and codes without (the paper's "
      "ablation).")
  p.add_argument("--ms_ssim_weight", type=float,
                 help="a in the distortion (1 - a - b) MSE + a * 2000 * "
                 "(1 - MS-SSIM) + b * 500 * (1 - SSIM).")
  p.add_argument("--ssim_weight", type=float,
                 help="b in the distortion above (SSIM term).")
  p.add_argument("--mse_fraction", type=float,
                 help="First fraction of the steps trained on the MSE alone "
                 "before the blend above (the described MSE-then-perceptual "
                 "schedule, e.g. 0.5 with --ssim_weight).")
  p.add_argument("--latent_channels", type=int,
                 help="Channels of the latent z (at 1/8 resolution).")
  p.add_argument("--admm", choices=ADMM_MODES,
                 help="What of ADMM trains with --pruning (the ablations "
                 "that isolate it): full; no_dual, U held at 0, i.e. the "
                 "penalty (rho/2)||z - Pi(z)||^2 alone; off, no ADMM term "
                 "(coding still projects, masked retraining still runs).")
  p.add_argument("--num_filters", type=int, help="Filters per layer.")


COMMAND = commands.SystemCommand(
    "cae_admm", __doc__, Config,
    train_help="Train on distortion with the ADMM pruning schedule.",
    train_description="Trains the compressive autoencoder on random patches "
      "with ADMM on card(z_hat) <= l, then fits the factorized tables to the"
      " pruned integer latents of training patches. Resumes from the last "
      "checkpoint in --train_dir when re-run with the same flags.",
    add_train_flags=_add_train_flags,
    ablation_what="with and without the pruning schedule, or trained with "
      "another ADMM mode: bpp, PSNR, SSIM, MS-SSIM and the fraction of zero "
      "latents")
parse_args, main, run = COMMAND.parse_args, COMMAND.main, COMMAND.run

if __name__ == "__main__":
  run()

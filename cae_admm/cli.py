"""The `cae_admm` command: train a CAE-ADMM model; code images with it.

    cae_admm train --train_glob='photos/**/*.png' --keep_fraction=0.1 \\
        --model_path=cae.npz
    cae_admm compress --model_path=cae.npz photo.png     # photo.png.tfci
    cae_admm decompress --model_path=cae.npz photo.png.tfci
    cae_admm evaluate --model cae.npz --model bls2017-mse-4 photos/

compress, decompress, export and evaluate are bls2017's commands; they
take the model file of any system.
"""

from bls2017 import cli as bls2017_cli
from bls2017 import lazy

# Loaded on first use: parsing the command line needs no TensorFlow.
ablation = lazy.module("cae_admm.ablation")
codec = lazy.module("cae_admm.codec")
trainer = lazy.module("cae_admm.train")


def _add_train_parser(subparsers):
  p = subparsers.add_parser(
      "train", help="Train on distortion with the ADMM pruning schedule.",
      description="Trains the compressive autoencoder on random patches "
      "with ADMM on card(z_hat) <= l, then fits the factorized tables to the"
      " pruned integer latents of training patches. Resumes from the last "
      "checkpoint in --train_dir when re-run with the same flags.")
  bls2017_cli.add_training_flags(p, "cae_admm.npz", patchsize=128,
                                 learning_rate=1e-4)
  p.add_argument("--keep_fraction", type=float, default=0.1,
                 help="l as a fraction of the latents kept non-zero "
                 "(paper: 0.1); sets the rate.")
  p.add_argument("--rho", type=float, default=50.0,
                 help="ADMM penalty weight rho (per pixel, against the MSE "
                 "on the 0..255 scale).")
  p.add_argument("--admm_every_epochs", type=int, default=1,
                 help="K: epochs between dual updates U <- U + z - Z.")
  p.add_argument("--retrain_fraction", type=float, default=0.3,
                 help="Last fraction of the steps in which the decoder sees "
                 "the pruned latents (masked retraining after ADMM).")
  bls2017_cli.add_bool_flag(
      p, "pruning", True, "Train with the ADMM schedule and prune when "
      "coding (default); --nopruning trains and codes without (the paper's "
      "ablation).")
  p.add_argument("--ms_ssim_weight", type=float, default=0.0,
                 help="Blend of the distortion: (1 - w) MSE + w * 2000 * "
                 "(1 - MS-SSIM).")
  p.add_argument("--num_filters", type=int, default=64,
                 help="Filters per layer.")
  p.add_argument("--latent_channels", type=int, default=32,
                 help="Channels of the latent z (at 1/8 resolution).")
  p.set_defaults(command=_train)

  bls2017_cli.add_ablation_parser(
      subparsers, "with and without the pruning schedule: bpp, PSNR and the "
      "fraction of zero latents",
      # Deferred: naming codec.load here would load TensorFlow.
      lambda name: codec.load(name), lambda *args: ablation.run(*args))


def _train(args):
  config = trainer.Config.from_flags(
      args, command=bls2017_cli.command_line("cae_admm"))
  trainer.train(config)
  print(f"Wrote {config.model_path}")


parse_args = bls2017_cli.command_parser(__doc__, _add_train_parser,
                                        shipped=False)


def main(args):
  bls2017_cli.run_reporting_errors(args, "cae_admm",
                                   bls2017_cli.user_error_types())


def run():
  bls2017_cli.run_command(main, parse_args)


if __name__ == "__main__":
  run()

r"""Trains a ladder of bls2017 models in JAX, one per lambda, in one run.

    python -m bls2017.jax_twin --train_glob='photos/**/*.png' \
        --lambda=0.0018,0.0035,0.0067,0.013 --model_dir=ladder

Writes MODEL_DIR/lambda-<lambda>.weights.npz; `bls2017 finalize` turns each
into a model file that every bls2017 command accepts. Re-run with the same
flags to resume from MODEL_DIR/train/checkpoint.npz; --max_minutes stops a
run resumably within a time limit. Needs JAX and optax (pip install
".[accel]"), not TensorFlow.
"""

import shlex
import sys

from absl import app, flags, logging

from bls2017.core import (images, patches, stored_weights, train_config,
                          user_errors)

# The trainer's extra dependencies, which the base install leaves out.
ACCEL_MODULES = ("jax", "jaxlib", "optax")
try:
  from bls2017.jax_twin import params_io, train
except ModuleNotFoundError as missing:
  if missing.name.split(".")[0] not in ACCEL_MODULES:
    raise
  user_errors.exit_with("bls2017.jax_twin", f"needs {missing.name}, which "
                        "is not installed: pip install '.[accel]'")

_FLAGS = flags.FLAGS
flags.DEFINE_string("train_glob", None, "Glob of training images (PNG/JPEG;"
                    " ** recurses).", required=True)
flags.DEFINE_list("lambda", ["0.01"], "The ladder: one model per value, "
                  "each weighting MSE (0..255 scale) against the bit rate.")
flags.DEFINE_string("model_dir", "ladder", "Where to write the weights files.")
flags.DEFINE_string("model_prefix", "lambda-", "Weights files are named "
                    "MODEL_PREFIX<lambda>.weights.npz.")
flags.DEFINE_string("train_dir", None, "Checkpoint and log.jsonl. Default: "
                    "MODEL_DIR/train")
flags.DEFINE_integer("num_filters", None, "Filters per layer. Default: the "
                     "paper's 192 for RGB, 128 for grayscale.")
flags.DEFINE_enum("gdn", "simplified", list(train_config.GDN_FORMS),
                  "GDN's form: paper, u / sqrt(beta + sum gamma u^2) (the "
                  "paper's); simplified, u / (beta + sum gamma |u|) (the "
                  "shipped models').")
flags.DEFINE_enum("channels", "3", ["1", "3"], "3 for RGB, 1 for grayscale "
                  "models.")
flags.DEFINE_integer("patchsize", 256, "Side of the random square training "
                     "patches (a multiple of 16).")
flags.DEFINE_integer("batchsize", 8, "Patches a step, split over the local "
                     "devices.")
flags.DEFINE_integer("epochs", 1000, "Epochs to train.")
flags.DEFINE_integer("steps_per_epoch", 1000, "Steps per epoch.")
flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate (the peak with"
                   " a schedule).")
flags.DEFINE_enum("lr_schedule", "constant", list(train.SCHEDULES),
                  "cosine: decay to 1% of the peak over all steps.")
flags.DEFINE_integer("seed", 0, "Seed of the initial weights, the patches "
                     "and the noise.")
flags.DEFINE_list("warm_start", [], "Model or weights file(s) to start from:"
                  " one for every lambda, or one per lambda.")
flags.DEFINE_float("checkpoint_minutes", 5., "Minutes between checkpoints.")
flags.DEFINE_float("max_minutes", 0., "Stop after this many minutes, with a "
                   "checkpoint and weights files; re-run to resume. 0: no "
                   "limit.")
flags.DEFINE_integer("max_steps", 0, "Stop at this step (resumably); 0: at "
                     "the end.")
flags.DEFINE_integer("log_every", 100, "Steps between lines of log.jsonl.")
flags.DEFINE_enum("weights_dtype", "float16", list(stored_weights.FORMATS),
                  "Precision of the weights files: float16 (what model "
                  "files store), float32, or int8 with per-channel scales "
                  "(half the size, for a narrow return path).")
flags.DEFINE_enum("ladder_form", "unrolled", list(train.LADDER_FORMS),
                  "unrolled: one subgraph per model in the step; vmap: the "
                  "models batched (grouped convolutions).")
flags.DEFINE_string("compilation_cache", None, "Directory for JAX's "
                    "persistent compilation cache, so that a resumed run "
                    "does not compile the step again.")
flags.DEFINE_string("commit", None, "The trainer's commit, to record. "
                    "Default: `git rev-parse HEAD` where there is a git "
                    "checkout.")
flags.DEFINE_bool("verbose", True, "Show a progress bar.")

# What a user can cause by bad input: one line and exit status 1.
USER_ERRORS = (train.ConfigError, params_io.ParamsError, patches.DataError,
               images.ImageError, FloatingPointError, OSError)


def config_from_flags(argv):
  """The LadderConfig that the flags describe."""
  try:
    lambdas = [float(l) for l in _FLAGS["lambda"].value]
  except ValueError as e:
    raise train.ConfigError(f"--lambda: {e}") from None
  return train.LadderConfig.from_flags(
      _FLAGS, lambdas=lambdas, channels=int(_FLAGS.channels),
      command="python -m bls2017.jax_twin " + shlex.join(argv[1:]))


def main(argv):
  # JAX logs every backend it does not find at INFO level.
  logging.set_verbosity(logging.WARNING)
  try:
    del argv  # absl leaves only what is not a flag; record every flag.
    config = config_from_flags(sys.argv)
    paths = train.train(config)
  except USER_ERRORS as e:
    user_errors.exit_with("bls2017.jax_twin", e)
  for path in paths:
    print(f"Wrote {path}")


if __name__ == "__main__":
  app.run(main)

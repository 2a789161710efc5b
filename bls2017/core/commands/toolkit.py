"""The command-line toolkit every command uses: flags read before
TensorFlow loads, their defaults from a config dataclass, and one-line
errors.

    argv --parse (absl argparse_flags; --help without TF)--> args
         --run_command--> TensorFlow loaded quietly (tf_log)
         --run_reporting_errors--> args.command(args); a user error is one
                                   line naming it and exit status 1
"""

import dataclasses
import os
import sys

from absl import app
from absl.flags import argparse_flags

from bls2017.core import images, lazy, patches, tf_log, train_config
from bls2017.core import user_errors

# Loaded on first use: parsing the command line needs no TensorFlow.
bitstream = lazy.module("bls2017.core.bitstream")
model_file = lazy.module("bls2017.core.model_file")
saved_codec = lazy.module("bls2017.core.saved_codec")


class UsageError(ValueError):
  """A command-line request that cannot be carried out as given."""


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


def refuse_overwriting_input(input_file, output_file):
  if os.path.exists(output_file) and os.path.samefile(input_file,
                                                      output_file):
    raise UsageError(f"{output_file}: output would overwrite the input.")


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

"""What every system's command shares, in three modules:

    toolkit   flags (the training flags, defaults from a config), running a
              command (flags parsed before TensorFlow loads, one-line
              errors with exit status 1)
    coding    compress, decompress, export, evaluate, plot
    system    SystemCommand: a system's `train`, `ablation`, own
              subcommands and the coding commands

    argv --SystemCommand.parse_args--> args --run_command--> TensorFlow
         loaded quietly --run_reporting_errors--> args.command(args)

The names below are this package's interface; each lives in one module.
"""

from bls2017.core.commands.coding import add_codec_parsers
from bls2017.core.commands.system import (SystemCommand, add_ablation_parser,
                                          command_parser)
from bls2017.core.commands.toolkit import (UsageError, add_bool_flag,
                                           add_model_flag,
                                           add_training_flags, command_line,
                                           refuse_overwriting_input,
                                           run_command, run_reporting_errors,
                                           use_config_defaults,
                                           user_error_types)

__all__ = [
    "SystemCommand", "UsageError", "add_ablation_parser", "add_bool_flag",
    "add_codec_parsers", "add_model_flag", "add_training_flags",
    "command_line", "command_parser", "refuse_overwriting_input",
    "run_command", "run_reporting_errors", "use_config_defaults",
    "user_error_types"]

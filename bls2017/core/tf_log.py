"""TensorFlow's logs, kept off the commands' output unless asked for.

Importing TensorFlow writes about ten lines to stderr (CUDA, cuDNN and
TensorRT registration, CPU-feature notices) that say nothing about the
command being run, and its Python logger warns about what a command does
on purpose (a tf.function traced once per model when `evaluate` loads the
whole ladder). Each command calls `quiet_unless_asked` before it imports
TensorFlow; TF_CPP_MIN_LOG_LEVEL=3 then silences the C++ log and the
"tensorflow" Python logger shows errors only, unless the user set
TF_CPP_MIN_LOG_LEVEL themselves or asked for verbose output.

Plain Python: it must run before TensorFlow is imported.
"""

import logging
import os
import sys

VERBOSE_FLAGS = ("-V", "--verbose")


def _asks_for_verbose(argv):
  for arg in argv:
    flag, _, value = arg.partition("=")
    if flag in VERBOSE_FLAGS and value not in ("0", "false", "False"):
      return True
  return False


def quiet_unless_asked(argv=None):
  """Silences TensorFlow's logs unless TF_CPP_MIN_LOG_LEVEL is set or argv
  (default: sys.argv) asks for verbose output."""
  argv = sys.argv[1:] if argv is None else argv
  if "TF_CPP_MIN_LOG_LEVEL" not in os.environ and not _asks_for_verbose(argv):
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    logging.getLogger("tensorflow").setLevel(logging.ERROR)

"""Running the project's commands from tests: in-process, or as a fresh
process given only the project's root."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_main(cli, program, *argv):
  """Runs `cli.main` on parsed argv; returns the exit status (0 or 1)."""
  try:
    cli.main(cli.parse_args([program, *map(str, argv)]))
  except SystemExit as e:
    return e.code
  return 0


def run_cli(*argv):
  """`bls2017 ARGV` in-process; returns the exit status."""
  from bls2017 import cli  # pylint: disable=import-outside-toplevel
  return run_main(cli, "bls2017", *argv)


def run_subprocess(*argv, cwd=None):
  """`python -m bls2017 ARGV` in a fresh process; the CompletedProcess."""
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, "-m", "bls2017", *map(str, argv)],
                        capture_output=True, text=True, env=env, cwd=cwd,
                        timeout=300)


def run_without_project(script, cwd):
  """Runs a Python script in a fresh process that is not given the project
  on its path; the script itself asserts it never imports it."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  env.pop("PYTHONPATH", None)
  result = subprocess.run([sys.executable, "-c", script], cwd=cwd,
                          capture_output=True, text=True, env=env,
                          timeout=300)
  assert result.returncode == 0, result.stderr
  return result


def assert_exported_codec_round_trips(codec, directory, x):
  """Exports `codec`'s SavedModels; they write and read its bitstreams."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from bls2017.core import export
  export.export(codec, str(directory))
  compressor = tf.saved_model.load(str(directory / "compressor"))
  decompressor = tf.saved_model.load(str(directory / "decompressor"))
  data = compressor.compress(x).numpy()
  assert data == codec.compress(x)
  np.testing.assert_array_equal(decompressor.decompress(data).numpy(),
                                codec.decompress(data))

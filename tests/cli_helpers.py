"""Running the project's absl commands in-process from tests."""


def run_main(cli, program, *argv):
  """Runs `cli.main` on parsed argv; returns the exit status (0 or 1)."""
  try:
    cli.main(cli.parse_args([program, *map(str, argv)]))
  except SystemExit as e:
    return e.code
  return 0


def run_without_project(script, cwd):
  """Runs a Python script in a fresh process that is not given the project
  on its path; the script itself asserts it never imports it."""
  import os  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
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
  from bls2017 import export  # pylint: disable=import-outside-toplevel
  export.export(codec, str(directory))
  compressor = tf.saved_model.load(str(directory / "compressor"))
  decompressor = tf.saved_model.load(str(directory / "decompressor"))
  data = compressor.compress(x).numpy()
  assert data == codec.compress(x)
  np.testing.assert_array_equal(decompressor.decompress(data).numpy(),
                                codec.decompress(data))

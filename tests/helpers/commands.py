"""Running the project's commands from tests: in-process, or as a fresh
process given only the project's root."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


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


# Run in a process without the project: SavedModels need TensorFlow and
# TFC's ops only.
_SAVEDMODEL_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf
import tensorflow_compression  # registers the range coding ops
x = np.load("x.npy")
c = tf.saved_model.load("compressor")
d = tf.saved_model.load("decompressor")
data = c.signatures["serving_default"](image=tf.constant(x))["bitstream"]
data = data.numpy()
assert data == c.compress(x).numpy()
open("saved.tfci", "wb").write(data)
y = d.signatures["serving_default"](bitstream=tf.constant(data))["image"]
np.save("y.npy", y.numpy())
project = ("bls2017", "cae_admm", "content_weighted", "mnist_demo")
assert not [m for m in sys.modules if m.split(".")[0] in project]
"""


def assert_exported_codec_round_trips(codec, directory, x, export=True):
  """Exports `codec`'s SavedModels to `directory` (export=False: they are
  there already); in a fresh process that never imports the project, their
  serving signatures write the codec's bitstream of x and decode it to the
  codec's image."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  from bls2017.core import export as export_lib  # pylint: disable=import-outside-toplevel
  if export:
    export_lib.export(codec, str(directory))
  np.save(directory / "x.npy", x)
  run_without_project(_SAVEDMODEL_SCRIPT, directory)
  data = (directory / "saved.tfci").read_bytes()
  assert data == codec.compress(x)
  np.testing.assert_array_equal(np.load(directory / "y.npy"),
                                codec.decompress(data))


def bad_bitstreams(good, system):
  """{case: (bytes, words its error must contain)}: damaged copies of the
  bitstream `good` that `system`'s decompress must refuse."""
  flipped = bytearray(good)
  flipped[-1] ^= 1
  version = bytearray(good)
  version[2] = 9
  return {
      "truncated": (good[:-4], "integrity check failed"),
      "too short": (good[:9], "truncated bitstream"),
      "corrupt": (bytes(flipped), "integrity check failed"),
      "version": (bytes(version), "unsupported bitstream format version 9"),
      "not tfci": (b"hello world, this is text",
                   f"not a {system} bitstream"),
  }


def assert_refused_in_one_line(run, path, data, words, model_path, capsys):
  """`run("decompress", path, ...)` of `data` exits 1 with a one-line error
  containing `words` and writes no image."""
  path.write_bytes(data)
  assert run("decompress", path, "--model_path", model_path) == 1, path.name
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and words in err, (path.name, err)
  assert not os.path.exists(str(path) + ".png"), path.name


def assert_cli_refuses_bad_bitstreams(cli, program, model_path, other_path,
                                      tmp_path, capsys):
  """`program decompress` (a registered system's command) refuses each of
  `bad_bitstreams` of a file its compress wrote, and one of another model
  (`other_path`), with a one-line error and no image."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from helpers.synthetic import synthetic_image  # pylint: disable=import-outside-toplevel

  def run(*argv):
    return run_main(cli, program, *argv)

  image = tmp_path / "x.png"
  Image.fromarray(synthetic_image(24, 32)).save(image)
  assert run("compress", "--model_path", model_path, image,
             tmp_path / "good.tfci") == 0
  good = (tmp_path / "good.tfci").read_bytes()
  assert len(good) > 20  # A payload to truncate.
  cases = bad_bitstreams(good, program)
  cases["wrong model"] = (good, "written by model")
  capsys.readouterr()
  for name, (data, words) in cases.items():
    assert_refused_in_one_line(
        run, tmp_path / f"{name}.tfci", data, words,
        other_path if name == "wrong model" else model_path, capsys)

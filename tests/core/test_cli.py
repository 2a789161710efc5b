"""The bls2017 command: round trips, export, and one-line errors."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bls2017.core import codec, images
from helpers.commands import (ROOT, assert_exported_codec_round_trips,
                         assert_refused_in_one_line, bad_bitstreams, run_cli,
                         run_subprocess)


def test_cli_round_trip_is_bit_exact_with_keras(rgb_model_path, write_image,
                                                tmp_path):
  path, x = write_image(45, 70)
  assert run_cli("compress", path, "--model_path", rgb_model_path) == 0
  assert run_cli("decompress", path + ".tfci", "--model_path",
                 rgb_model_path) == 0
  keras = codec.load(rgb_model_path)
  with open(path + ".tfci", "rb") as f:
    data = f.read()
  assert data == keras.compress(x)
  np.testing.assert_array_equal(images.read(path + ".tfci.png"),
                                keras.decompress(data))


def test_compress_verbose_prints_figures(rgb_model_path, write_image, capsys):
  path, _ = write_image(200, 180)
  out = str(path) + ".out"
  assert run_cli("compress", "-V", path, out, "--model_path",
                 rgb_model_path) == 0
  printed = capsys.readouterr().out
  size = os.path.getsize(out)
  # The figures are those of the written file, decoded: PSNR computed here
  # from its definition, MS-SSIM by the metrics module (tested there).
  from bls2017.core import metrics
  x = images.read(path)
  with open(out, "rb") as f:
    x_hat = codec.load(rgb_model_path).decompress(f.read())
  mse = np.mean(np.square(x.astype(np.float64) - x_hat))
  quality = metrics.quality(x, x_hat)
  assert (f"bpp {8 * size / (200 * 180):.4f}  "
          f"PSNR {10 * np.log10(255 ** 2 / mse):.2f} dB  "
          f"SSIM {quality['ssim']:.4f}  MS-SSIM {quality['ms_ssim']:.4f} "
          f"({quality['ms_ssim_db']:.2f} dB)") in printed


@pytest.mark.slow
def test_export_round_trips_in_a_process_without_the_project(
    rgb_model_path, write_image, tmp_path):
  path, x = write_image(30, 47)
  assert run_cli("compress", path, "--model_path", rgb_model_path) == 0
  assert run_cli("export", tmp_path / "exported", "--model_path",
                 rgb_model_path) == 0
  # The command's SavedModels, run without the project.
  assert_exported_codec_round_trips(codec.load(rgb_model_path),
                                    tmp_path / "exported", x, export=False)
  with open(path + ".tfci", "rb") as f:
    assert (tmp_path / "exported" / "saved.tfci").read_bytes() == f.read()


def test_bad_bitstreams_give_one_line_errors(rgb_model_path,
                                             other_rgb_model_path,
                                             write_image, tmp_path, capsys):
  path, _ = write_image(32, 32)
  assert run_cli("compress", path, "--model_path", rgb_model_path) == 0
  with open(path + ".tfci", "rb") as f:
    good = f.read()
  cases = bad_bitstreams(good, "bls2017")
  cases["wrong model"] = (good, "written by model")
  capsys.readouterr()
  for name, (data, words) in cases.items():
    model = other_rgb_model_path if name == "wrong model" else rgb_model_path
    assert_refused_in_one_line(run_cli, tmp_path / f"{name}.tfci", data,
                               words, model, capsys)


def test_bad_images_give_one_line_errors(rgb_model_path, tmp_path, capsys):
  empty = tmp_path / "empty.png"
  empty.write_bytes(b"")
  text = tmp_path / "text.png"
  text.write_text("not an image")
  cases = {empty: "not a readable image", text: "not a readable image",
           tmp_path / "missing.png": "no such file"}
  for path, words in cases.items():
    assert run_cli("compress", path, "--model_path", rgb_model_path) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert not os.path.exists(str(path) + ".tfci")


def test_output_never_overwrites_input(rgb_model_path, write_image, capsys):
  path, _ = write_image(16, 16)
  before = open(path, "rb").read()
  assert run_cli("compress", path, path, "--model_path", rgb_model_path) == 1
  assert "overwrite the input" in capsys.readouterr().err
  assert open(path, "rb").read() == before


def test_missing_output_directory_is_named(rgb_model_path, write_image,
                                           tmp_path, capsys):
  path, _ = write_image(16, 16)
  missing = tmp_path / "absent"
  assert run_cli("compress", path, missing / "out.tfci", "--model_path",
                 rgb_model_path) == 1
  assert capsys.readouterr().err == (
      f"bls2017 compress: error: {missing}: no such directory (writing "
      "out.tfci)\n")


def test_wrong_model_error_names_the_shipped_model_that_wrote_it(
    rgb_model_path, write_image, tmp_path, capsys):
  path, _ = write_image(32, 32)
  data = tmp_path / "by-mse-2.tfci"
  assert run_cli("compress", path, data, "--model", "bls2017-mse-2") == 0
  capsys.readouterr()
  assert run_cli("decompress", data, "--model_path", rgb_model_path) == 1
  err = capsys.readouterr().err
  assert err.count("\n") == 1, err
  assert "written by the shipped model bls2017-mse-2" in err
  assert "pass --model bls2017-mse-2" in err


def test_a_replaced_shipped_models_bitstream_is_refused_by_name(
    rgb_model_path, other_rgb_model_path, write_image, tmp_path, capsys,
    monkeypatch):
  """A bitstream of a model that a catalog shipped once and has replaced
  since: one line naming it and the revision that has its file, with or
  without --model."""
  import json  # pylint: disable=import-outside-toplevel
  from bls2017 import zoo  # pylint: disable=import-outside-toplevel
  from bls2017.core import catalog  # pylint: disable=import-outside-toplevel
  path, _ = write_image(32, 32)
  data = tmp_path / "old.tfci"
  assert run_cli("compress", path, data, "--model_path", rgb_model_path) == 0
  fingerprint = codec.load(rgb_model_path).fingerprint.hex()
  monkeypatch.setattr(zoo, "CATALOG", catalog.Catalog(str(tmp_path)))
  (tmp_path / "replaced.json").write_text(json.dumps({fingerprint: {
      "name": "toy-1", "revision": "0123456789abcdef", "replaced_by": "x",
      "entry": {}}}))
  capsys.readouterr()
  for model in ((), ("--model_path", other_rgb_model_path)):
    assert run_cli("decompress", data, *model) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert (f"written by toy-1 as shipped before it was replaced (model "
            f"{fingerprint}); decode it with --model and that model's file "
            "from revision 0123456789ab of this project") in err
    assert not os.path.exists(str(data) + ".png")


def test_unknown_model_name(write_image, capsys):
  path, _ = write_image(16, 16)
  assert run_cli("compress", path, "--model", "no-such-model") == 1
  assert "neither a model file nor a shipped model" in capsys.readouterr().err


@pytest.mark.slow
def test_process_exit_status_and_no_traceback(tmp_path):
  bad = tmp_path / "bad.tfci"
  bad.write_bytes(b"BL\x01\x03" + bytes(30))
  result = run_subprocess("decompress", bad)
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      "bls2017 decompress: error: integrity check failed: the bitstream is "
      "corrupt or truncated.")


def test_help_lists_subcommands():
  result = run_subprocess("--help")
  assert result.returncode == 0
  for command in ("train", "compress", "decompress", "export", "models",
                  "demo"):
    assert command in result.stdout


@pytest.mark.slow
def test_tensorflow_log_stays_off_the_error_output(tmp_path):
  """Without TF_CPP_MIN_LOG_LEVEL set, an error is still stderr's only
  line: TensorFlow's C++ log is kept off unless asked for."""
  bad = tmp_path / "bad.tfci"
  bad.write_bytes(b"BL\x01\x03" + bytes(30))
  env = dict(os.environ, PYTHONPATH=ROOT)
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)
  result = subprocess.run([sys.executable, "-m", "bls2017", "decompress",
                           str(bad)], capture_output=True, text=True, env=env,
                          timeout=300)
  assert result.returncode == 1
  assert result.stderr.splitlines() == [
      "bls2017 decompress: error: integrity check failed: the bitstream is "
      "corrupt or truncated."]


def test_verbose_output_or_the_users_setting_keeps_the_tensorflow_log(
    monkeypatch):
  import logging  # pylint: disable=import-outside-toplevel
  from bls2017.core import tf_log
  logger = logging.getLogger("tensorflow")
  # Record the level instead of setting it: the suite's log stays as it is.
  monkeypatch.setattr(logger, "quiet_level", None, raising=False)
  monkeypatch.setattr(logger, "setLevel", lambda level: setattr(
      logger, "quiet_level", level))
  monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
  for argv in (["compress", "-V", "x.png"], ["train", "--verbose=2"]):
    tf_log.quiet_unless_asked(argv)
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ, argv
    assert logger.quiet_level is None, argv
  tf_log.quiet_unless_asked(["train", "--verbose=0"])
  assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
  assert logger.quiet_level == logging.ERROR
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
  tf_log.quiet_unless_asked(["compress", "x.png"])
  assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


@pytest.mark.parametrize("program,argv", [
    ("bls2017", ["--help"]), ("bls2017", ["compress", "--help"]),
    ("bls2017", ["train", "--help"]), ("bls2017", ["no-such-command"]),
    ("mnist_demo", ["train", "--help"]), ("cae_admm", ["ablation", "--help"]),
    ("content_weighted", ["train", "--help"])])
def test_help_and_usage_errors_need_no_tensorflow(program, argv):
  script = textwrap.dedent(f"""
      import sys
      sys.argv = [{program!r}] + {argv!r}
      from {program} import cli
      try:
        cli.run()
      except SystemExit as e:
        print("exit", e.code, "tensorflow" in sys.modules)
      """)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT),
                          timeout=300)
  expected = 2 if argv == ["no-such-command"] else 0
  assert result.stdout.splitlines()[-1] == f"exit {expected} False", (
      result.stdout, result.stderr)


@pytest.mark.parametrize("module", [
    "bls2017.benchmark", "bls2017.training_benchmark", "bls2017.zoo",
    "bls2017.campaign", "content_weighted.benchmark",
    "bls2017.zoo.compaction", "bls2017.jax_twin", "bls2017.docs"])
def test_module_commands_answer_help_without_tensorflow(module):
  script = textwrap.dedent(f"""
      import runpy, sys
      sys.argv = [{module!r}, "--help"]
      try:
        runpy.run_module({module!r}, run_name="__main__")
      except SystemExit as e:
        # (A lazily registered "tensorflow" is not loaded: its
        # submodules are.)
        print("exit", e.code, "tensorflow.python" in sys.modules)
      """)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT),
                          timeout=300)
  if module == "bls2017.jax_twin" and importlib.util.find_spec("jax") is None:
    # Without the accel extra: one line that says what to install.
    assert result.stdout.splitlines()[-1] == "exit 1 False"
    assert result.stderr.strip() == (
        "bls2017.jax_twin: error: needs jax, which is not installed: "
        "pip install '.[accel]'")
    return
  assert "--" in result.stdout  # The flags are listed.
  # (absl's own --help, of the commands that define absl flags, exits 1.)
  assert result.stdout.splitlines()[-1] in (
      "exit 0 False", "exit 1 False"), (result.stdout, result.stderr)

"""The benchmark and zoo commands: absl flags, figures in their JSON."""

import json
import os

import numpy as np
import pytest

from bls2017 import benchmark, training_benchmark, zoo
from bls2017.core import catalog, model_file
from bls2017.zoo import __main__ as zoo_command
from helpers.models import make_model_file
from helpers.synthetic import write_training_images


@pytest.mark.slow
def test_codec_benchmark_writes_its_figures(rgb_model_path, tmp_path):
  output = tmp_path / "bench.json"
  benchmark.main(benchmark.parse_args([
      "benchmark", "--model", rgb_model_path, "--sizes", "48x32,40x24",
      "--repeats", "1", "--skip_training", "--command_repeats", "0",
      "--output", str(output)]))
  result = json.loads(output.read_text())
  assert result["machine"]["cores"] and "libavif" in (
      result["machine"]["codec_libraries"])
  rows = result["rows"]
  whats = [row["what"] for row in rows]
  assert any("48x32" in w for w in whats) and any("40x24" in w for w in whats)
  assert all(row["seconds"] > 0 for row in rows if "seconds" in row)
  assert rows[-1]["what"] == "peak memory (MiB)" and rows[-1]["mebibytes"] > 0
  # Which model was timed, should the file at that path change later.
  assert result["model"] == {
      "model": rgb_model_path, "channels": 3, "num_filters": 8,
      "fingerprint": model_file.identity(rgb_model_path)[2].hex()}


@pytest.mark.parametrize("parse", [benchmark.parse_args,
                                   training_benchmark.parse_args,
                                   zoo_command.parse_args])
def test_usage_errors_exit_with_status_2(parse, capsys):
  with pytest.raises(SystemExit) as e:
    parse(["command", "--no_such_flag"])
  assert e.value.code == 2
  assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_training_benchmark_times_every_part(tmp_path):
  pattern = write_training_images(tmp_path / "train", [(48, 48), (40, 56)])
  output = tmp_path / "training.json"
  training_benchmark.main(training_benchmark.parse_args([
      "training_benchmark", "--train_glob", pattern, "--patchsize", "32",
      "--batchsize", "2", "--num_filters", "8", "--repeats", "1",
      "--output", str(output)]))
  result = json.loads(output.read_text())
  assert result["config"]["repeats"] == 1 and "output" not in result["config"]
  timed = [row for row in result["rows"] if "seconds" in row]
  assert len(timed) >= 5 and all(row["seconds"] > 0 for row in timed)
  steps = [row["what"] for row in timed if row["what"].startswith(
      "train step, fixed batch, kernels by")]
  assert len(steps) == 2  # Side by side: irfft2d and matrix product.
  assert result["machine"]["cores"] >= 1 and result["machine"]["tensorflow"]


@pytest.mark.slow
def test_zoo_command_ships_a_model_with_its_record(tmp_path, write_image,
                                                   monkeypatch):
  # 32 filters: kernels large enough to be stored as int8 when asked.
  model_path = make_model_file(tmp_path / "trained.npz", 3, num_filters=32)
  monkeypatch.setattr(zoo, "CATALOG", catalog.Catalog(str(tmp_path)))
  path, _ = write_image(40, 56)
  zoo_command.main(zoo_command.parse_args([
      "zoo", "toy-1", model_path, "--validation_images",
      os.path.dirname(path), "--hardware", "2 CPU cores",
      "--wall_time_hours", "0.1", "--weights_dtype", "int8"]))
  entry = json.loads((tmp_path / "models.json").read_text())["toy-1"]
  assert entry["training"]["hardware"] == "2 CPU cores"
  assert entry["training"]["wall_time_hours"] == 0.1
  assert entry["validation"]["bpp"] > 0 and entry["sample_photo_bytes"] > 16
  with np.load(tmp_path / "toy-1.npz") as shipped:  # --weights_dtype int8:
    assert any(name.startswith("spatial_scale_")  # kernels as int8 taps.
               for name in shipped.files)
  # Shipped again, the same model replaces nothing; another model under
  # the name keeps the record it replaces in replaced.json.
  zoo_command.ship("toy-1", model_path, os.path.dirname(path), "2 CPU cores",
                   0.2, weights_dtype="int8")
  assert zoo.CATALOG.replaced() == {}
  before = zoo.catalog()["toy-1"]
  zoo_command.ship("toy-1", make_model_file(tmp_path / "other.npz", 3,
                                            num_filters=32, seed=1),
                   os.path.dirname(path), "2 CPU cores", 0.3)
  after = zoo.catalog()["toy-1"]
  assert after["fingerprint"] != before["fingerprint"] == entry["fingerprint"]
  assert zoo.CATALOG.replaced() == {before["fingerprint"]: {
      "name": "toy-1", "revision": zoo.CATALOG.replaced()[
          before["fingerprint"]]["revision"],
      "replaced_by": after["fingerprint"], "entry": before}}


def test_evaluate_benchmark_needs_enough_large_images(tmp_path, write_image):
  write_image(600, 800, name="large.png")
  write_image(100, 800, name="short.png")
  with pytest.raises(SystemExit, match="1 images of at least 768x512, not 2"):
    benchmark.evaluate_speed(str(tmp_path), 2, (768, 512))
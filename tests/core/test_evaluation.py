"""bls2017 evaluate: real bitstreams, figures, CompressAI JSON and CSV."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from bls2017.docs import tables
from bls2017.core import (baselines, codec, evaluation, metrics, model_file,
                          timing)
from bls2017.paper.model import BLS2017Model
from helpers.synthetic import synthetic_image
from helpers.commands import run_cli


@pytest.mark.slow
def test_evaluate_tiny_model_on_two_images(rgb_model_path, tmp_path,
                                          capsys):
  for k, (h, w) in enumerate([(40, 56), (170, 180)]):
    Image.fromarray(synthetic_image(h, w)).save(tmp_path / f"{k}.png")
  out = tmp_path / "results"
  # A published curve, with no seconds, compared and drawn beside them.
  reference = tmp_path / "published" / "paper.json"
  reference.parent.mkdir()
  reference.write_text(json.dumps({
      "name": "paper", "description": "The paper's curve", "source": "x",
      "results": {"bpp": [0.1, 2.0], "psnr-rgb": [20.0, 40.0],
                  "ms-ssim-rgb": [0.8, 0.99]}}))
  assert run_cli("evaluate", tmp_path, "--model", rgb_model_path,
                 "--output_dir", out, "--codecs", "jpeg,jpeg2000",
                 "--anchor", "jpeg,paper", "--reference", reference) == 0
  # Every phase shows progress, labelled by model and codec.
  progress = capsys.readouterr().err
  for label in (rgb_model_path, "jpeg quality sweep",
                f"rate matching jpeg2000 to {rgb_model_path}"):
    assert f"{label}: 100%" in progress, label
  for name in ("rd_psnr.png", "rd_msssim.png", "visual.png"):
    assert (out / name).stat().st_size > 5000, name
  # Every phase's wall time, the repeated ones (rate matching) summed.
  timings = json.loads((out / "timings.json").read_text())
  assert list(timings["phases"]) == [
      f"model {rgb_model_path}", "jpeg quality sweep",
      "jpeg2000 quality sweep", "jpeg rate matching",
      "jpeg2000 rate matching", "BD-rates and plots"]
  assert timings["total"] == pytest.approx(sum(timings["phases"].values()))
  assert all(seconds > 0 for seconds in timings["phases"].values())
  jpeg = json.loads((out / "jpeg.json").read_text())
  assert len(jpeg["results"]["bpp"]) == len(baselines.SWEEP["jpeg"])
  assert sorted(jpeg["results"]["bpp"]) == jpeg["results"]["bpp"]
  bd = json.loads((out / "bd.json").read_text())
  assert bd["anchor"] == "jpeg" and {"jpeg2000", "bls2017", "paper"} <= set(bd)
  bd_paper = json.loads((out / "bd_paper.json").read_text())
  assert bd_paper["anchor"] == "paper"
  assert "bls2017" in bd_paper  # One point: no BD figure (NaN).
  assert np.isfinite(bd_paper["jpeg"]["bd_psnr"])
  assert not (out / "paper.json").exists()  # The reference stays as it is.
  # Every file says where it was measured.
  machine = timing.machine()
  for name in ("bls2017.json", "jpeg.json", "timings.json",
               "training.json"):
    recorded = json.loads((out / name).read_text())["machine"]
    assert recorded["cpu"] == machine["cpu"], name
    assert recorded["codec_libraries"] == machine["codec_libraries"], name
  assert bd["machines"] == bd_paper["machines"] == [recorded]
  matched = list(csv.DictReader(open(out / "rate_matched.csv")))
  assert len(matched) == 4  # 2 images x 2 codecs.
  result = json.loads((out / "bls2017.json").read_text())
  assert set(result) == {"name", "description", "results", "machine"}
  assert set(result["results"]) == {"bpp", "psnr-rgb", "ssim-rgb",
                                    "ms-ssim-rgb", "encoding_time",
                                    "decoding_time"}
  rows = [r for r in csv.DictReader(open(out / "per_image.csv"))
          if r["method"] == "bls2017"]
  assert len(rows) == 2
  sizes = {r["image"]: int(r["bytes"]) for r in rows}
  for row in matched:
    lowest = baselines.QUALITY_RANGE[row["method"]][0]
    # At or under the model's size, unless even the lowest setting is over.
    assert (int(row["bytes"]) <= sizes[row["image"]] or
            int(row["quality"]) == lowest)
  # bpp counts the whole file, header included.
  for row in rows:
    h, w = int(row["height"]), int(row["width"])
    assert float(row["bpp"]) == 8 * int(row["bytes"]) / (h * w)
    assert int(row["bytes"]) >= 16
  assert np.isclose(result["results"]["bpp"][0],
                    np.mean([float(r["bpp"]) for r in rows]))
  # MS-SSIM is undefined below 161 px a side and reported as NaN.
  assert np.isnan(float(rows[0]["ms_ssim"]))
  assert 0 < float(rows[1]["ms_ssim"]) <= 1
  assert all(0 < float(r["ssim"]) < 1 for r in rows)
  # The training behind each model, from its file.
  (training,) = json.loads((out / "training.json").read_text())["models"]
  assert training["model"] == rgb_model_path
  assert training["method"] == "bls2017"
  assert training["fingerprint"] == codec.load(rgb_model_path).fingerprint.hex()


@pytest.mark.slow
def test_evaluate_without_the_anchor_writes_no_bd_file(rgb_model_path,
                                                       tmp_path):
  Image.fromarray(synthetic_image(40, 56)).save(tmp_path / "0.png")
  out = tmp_path / "results"
  # No classical codec, so the default anchor (JPEG) has no curve.
  assert run_cli("evaluate", tmp_path, "--model", rgb_model_path,
                 "--output_dir", out, "--codecs", "") == 0
  assert (out / "bls2017.json").exists()
  assert not (out / "bd.json").exists()


def test_match_size_stays_at_or_under_target():
  x = synthetic_image(96, 128)
  for name in baselines.CODECS:
    top = len(baselines.encode(name, x, baselines.QUALITY_RANGE[name][1]))
    target = top // 2
    quality, data = baselines.match_size(name, x, target)
    assert len(data) <= target, name
    # The next setting up would exceed the target.
    if quality < baselines.QUALITY_RANGE[name][1]:
      assert len(baselines.encode(name, x, quality + 1)) > target, name
    decoded = baselines.decode(data, 3)
    assert decoded.shape == x.shape and metrics.psnr(x, decoded) > 15


@pytest.mark.parametrize("name", sorted(baselines.CODECS))
def test_match_size_from_known_encodings_finds_the_same_with_fewer(
    name, monkeypatch):
  x = synthetic_image(64, 96)
  real_encode = baselines.encode
  calls = []
  monkeypatch.setattr(baselines, "encode", lambda codec, image, quality: (
      calls.append(quality) or real_encode(codec, image, quality)))
  sweep = {q: real_encode(name, x, q) for q in baselines.SWEEP[name]}
  known = dict(sweep)  # Gains each search's encodings, as in `evaluate`.
  for quality in baselines.SWEEP[name][2::3]:
    for target in (len(sweep[quality]) - 1, len(sweep[quality]) + 9):
      calls.clear()
      plain = baselines.match_size(name, x, target)
      searched = len(calls)
      calls.clear()
      assert baselines.match_size(name, x, target, known) == plain
      assert len(calls) < searched, (quality, target)
      assert all(len(known[q]) == len(d) for q, d in sweep.items())


def test_relaxed_vs_real(rgb_model_path, write_image):
  path, _ = write_image(64, 80)
  from bls2017.paper import relaxed_vs_real  # pylint: disable=import-outside-toplevel
  records, summary = relaxed_vs_real.measure(
      codec.load(rgb_model_path), [path], patchsize=32, count=5)
  assert len(records) == 5 and summary["patches"] == 5
  for r in records:
    assert r["real_bpp"] > 0 and r["relaxed_bpp"] > 0
    assert r["real_mse"] > 0 and r["relaxed_mse"] > 0
    # The real rate is a range coder's: whole bytes of payload.
    assert (r["real_bpp"] * 32 * 32 / 8).is_integer()
  # The summary is of these records.
  assert summary["rate_bias_bpp"] == pytest.approx(np.mean(
      [r["real_bpp"] - r["relaxed_bpp"] for r in records]))
  assert summary["mse_ratio_real_to_relaxed"] == pytest.approx(np.mean(
      [r["real_mse"] / r["relaxed_mse"] for r in records]))


def _curve(rates, psnrs):
  return [{"bpp": r, "psnr": p, "ms_ssim_db": p / 2}
          for r, p in zip(rates, psnrs)]


def test_bd_rate_on_synthetic_curves():
  rates = [0.25, 0.5, 1.0, 2.0]
  psnrs = [28.0, 31.0, 34.0, 37.0]
  anchor = _curve(rates, psnrs)
  # Same quality at 80 % of the rate everywhere: BD-rate is exactly -20 %.
  cheaper = _curve([0.8 * r for r in rates], psnrs)
  result = evaluation.bd_metrics(anchor, cheaper)
  assert np.isclose(result["bd_rate_psnr"], -20.0, atol=1e-6)
  assert np.isclose(result["bd_rate_ms_ssim_db"], -20.0, atol=1e-6)
  # Same rates, 1 dB better everywhere: BD-PSNR is exactly +1 dB.
  better = _curve(rates, [p + 1 for p in psnrs])
  assert np.isclose(evaluation.bd_metrics(anchor, better)["bd_psnr"], 1.0)
  # A single point has no curve: NaN, not an exception.
  assert np.isnan(evaluation.bd_metrics(anchor, anchor[:1])["bd_rate_psnr"])


def test_bd_figures_carry_their_curve_overlap():
  anchor = _curve([0.25, 0.5, 1.0, 2.0], [28.0, 31.0, 34.0, 37.0])
  # Quality 31..40 against 28..37: 6 dB in common of the 12 both span.
  shifted = _curve([0.5, 1.0, 2.0, 4.0], [31.0, 34.0, 37.0, 40.0])
  result = evaluation.bd_metrics(anchor, shifted)
  assert np.isclose(result["bd_rate_psnr_overlap"], 0.5)
  # log2-rate -2..1 against -1..2: 2 octaves in common of 4.
  assert np.isclose(result["bd_psnr_overlap"], 0.5)
  assert evaluation.bd_metrics(anchor, anchor)["bd_rate_psnr_overlap"] == 1


def test_bd_methods_table_rows_each_method_against_the_anchor():
  anchor = _curve([0.25, 0.5, 1.0, 2.0], [28.0, 31.0, 34.0, 37.0])
  bd = {"anchor": "a",
        "cheaper": evaluation.bd_metrics(anchor, _curve(
            [0.8 * s["bpp"] for s in anchor], [28.0, 31.0, 34.0, 37.0])),
        "shifted": evaluation.bd_metrics(anchor, _curve(
            [0.5, 1.0, 2.0, 4.0], [31.0, 34.0, 37.0, 40.0]))}
  lines = tables.bd_methods_table(
      bd, {"shifted": "S", "cheaper": "C"}).splitlines()
  assert lines[0].startswith("| against a | BD-rate, PSNR |")
  # Rows in the order asked for; each figure with its curve overlap.
  assert lines[2].startswith("| S | ") and "(50 %)" in lines[2]
  assert lines[3].startswith("| C | \u221220.0 % (100 %) | ")


def test_training_record_keeps_steps_and_figures_not_the_command(tmp_path):
  path = str(tmp_path / "m.npz")
  metadata = {"command": "bls2017 train --train_glob=/data/**/*.png",
              "steps": 4000, "total_steps": 24000, "seconds_this_run": 61.5,
              "warm_start": {"model": "parent.npz", "steps": 20000},
              "final_train_loss": 1.25, "replicas": 1}
  model_file.save(BLS2017Model(lmbda=0.01, num_filters=8), path,
                  metadata=metadata)
  loaded = codec.load(path)
  record = evaluation.training_record("m.npz", loaded)
  assert record == {"model": "m.npz", "method": "bls2017",
                    "fingerprint": loaded.fingerprint.hex(),
                    "steps": 4000, "total_steps": 24000,
                    "seconds_this_run": 61.5,
                    "warm_start": {"model": "parent.npz", "steps": 20000},
                    "final_train_loss": 1.25}


def test_training_table_counts_each_model_from_random_weights():
  records = [{"model": "p.npz", "steps": 20000, "seconds_this_run": 5400.0},
             {"model": "c.npz", "steps": 4000, "total_steps": 24000,
              "seconds_this_run": 900.0,
              "warm_start": {"model": "p.npz", "steps": 20000}}]
  assert tables.training_table(records).splitlines()[2:] == [
      "| p.npz | random weights | 20,000 | 20,000 | 1.50 |",
      "| c.npz | p.npz | 4,000 | 24,000 | 0.25 |"]


def test_ms_ssim_db():
  assert metrics.ms_ssim_db(0.9) == 10.0
  assert np.isnan(metrics.ms_ssim_db(float("nan")))


def _results_file(path, name, rates, psnrs):
  ms_ssims = [1 - 10 ** (-p / 20) for p in psnrs]  # ms_ssim_db = p / 2.
  evaluation.write_json(path, evaluation.compressai_json(
      name, f"{name} models", [
          {"bpp": r, "psnr": p, "ms_ssim": m, "encoding_time": 0.1,
           "decoding_time": 0.2} for r, p, m in zip(rates, psnrs, ms_ssims)]))
  return str(path)


def test_plot_merges_runs_of_one_method_into_one_curve(tmp_path):
  rates, psnrs = [0.25, 0.5, 1.0, 2.0], [28.0, 31.0, 34.0, 37.0]
  files = [_results_file(tmp_path / "anchor.json", "jpeg", rates, psnrs),
           # One method's points from two runs, out of rate order.
           _results_file(tmp_path / "a.json", "mine",
                         [0.8 * r for r in rates[2:]], psnrs[2:]),
           _results_file(tmp_path / "b.json", "mine",
                         [0.8 * r for r in rates[:2]], psnrs[:2])]
  # Where each run was measured, carried into the merged file.
  content = json.loads(open(files[1]).read())
  content["machine"] = {"cpu": "somewhere"}
  open(files[1], "w").write(json.dumps(content))
  # A published curve (no seconds) at half the anchor's rates.
  published = tmp_path / "published.json"
  published.write_text(json.dumps({
      "name": "paper", "description": "The paper", "source": "its file",
      "results": {"bpp": [0.5 * r for r in rates], "psnr-rgb": psnrs,
                  "ms-ssim-rgb": [1 - 10 ** (-p / 20) for p in psnrs]}}))
  out = tmp_path / "merged"
  assert run_cli("plot", *files, published, "--anchor", "jpeg,paper",
                 "--output_dir", out) == 0
  merged = json.loads((out / "mine.json").read_text())
  assert merged["results"]["bpp"] == [0.8 * r for r in rates]
  assert merged["results"]["psnr-rgb"] == psnrs
  assert merged["machines"] == [{"cpu": "somewhere"}]
  bd = json.loads((out / "bd.json").read_text())
  assert np.isclose(bd["mine"]["bd_rate_psnr"], -20.0, atol=1e-6)
  assert np.isclose(bd["mine"]["bd_rate_ms_ssim_db"], -20.0, atol=1e-6)
  assert bd["machines"] == [{"cpu": "somewhere"}]
  bd_paper = json.loads((out / "bd_paper.json").read_text())
  assert np.isclose(bd_paper["mine"]["bd_rate_psnr"], 60.0, atol=1e-6)
  paper = json.loads((out / "paper.json").read_text())
  assert paper["source"] == "its file" and "machines" not in paper
  assert "encoding_time" not in paper["results"]
  for name in ("rd_psnr.png", "rd_msssim.png"):
    assert (out / name).stat().st_size > 5000, name


def test_plot_refuses_bad_results_files(tmp_path, capsys):
  good = _results_file(tmp_path / "jpeg.json", "jpeg", [0.5, 1.0],
                       [30.0, 33.0])
  (tmp_path / "bad.json").write_text('{"name": "x"}')
  assert run_cli("plot", good, tmp_path / "bad.json",
                 "--output_dir", tmp_path / "out") == 1
  assert "bad.json: not a results file" in capsys.readouterr().err
  assert run_cli("plot", good, "--anchor", "bls2017",
                 "--output_dir", tmp_path / "out") == 1
  assert "no results for the anchor 'bls2017'" in capsys.readouterr().err
  assert not (tmp_path / "out").exists()


def test_curves_table_has_ssim_where_every_point_has_it(tmp_path):
  curve = {"bpp": [0.25, 0.5], "psnr-rgb": [25.0, 28.0],
           "ms-ssim-rgb": [0.9, 0.99], "encoding_time": [0.01, 0.02],
           "decoding_time": [0.03, 0.04]}
  paths = []
  for name, extra in (("a", {}), ("b", {"ssim-rgb": [0.7, 0.8]})):
    paths.append(tmp_path / f"{name}.json")
    paths[-1].write_text(json.dumps(
        {"name": name, "results": dict(curve, **extra)}))
  merged = evaluation.read_results(paths)
  labels = {"b": ("B", ["low", "high"])}
  assert tables.curves_table(merged, labels).splitlines()[2:] == [
      "| B | low | 0.250 | 25.00 | 0.7000 | 0.9000 (10.00) | 0.010 | 0.030 |",
      "| B | high | 0.500 | 28.00 | 0.8000 | 0.9900 (20.00) | 0.020 | 0.040 |"]
  # One point without SSIM: no SSIM column.
  labels["a"] = ("A", ["low", "high"])
  assert "SSIM |" not in tables.curves_table(merged, labels).replace(
      "MS-SSIM", "")
  with pytest.raises(ValueError, match="2 points, 1 setting labels"):
    tables.curves_table(merged, {"a": ("A", ["one"])})


def test_ssim_is_one_for_identical_images_and_falls_with_noise():
  x = synthetic_image(48, 64)
  rng = np.random.default_rng(0)
  values = [metrics.ssim(x, np.clip(x + rng.normal(0, sigma, x.shape), 0, 255)
                         .astype(np.uint8)) for sigma in (0, 4, 16, 48)]
  assert values[0] == 1 and values[0] > values[1] > values[2] > values[3] > 0
  assert np.isnan(metrics.ssim(x[:10], x[:10]))  # Under the 11-tap window.


def test_results_files_without_ssim_still_merge(tmp_path):
  old = {"name": "old", "description": "before SSIM", "results": {
      "bpp": [0.5, 1.0], "psnr-rgb": [28.0, 31.0], "ms-ssim-rgb": [0.95, 0.98],
      "encoding_time": [0.1, 0.1], "decoding_time": [0.1, 0.1]}}
  new = dict(old, name="new", results=dict(old["results"],
                                           **{"ssim-rgb": [0.8, 0.9]}))
  paths = []
  for content in (old, new):
    paths.append(tmp_path / f"{content['name']}.json")
    paths[-1].write_text(json.dumps(content))
  evaluation.merge_results(paths, ["old"], tmp_path / "merged")
  merged_old = json.loads((tmp_path / "merged" / "old.json").read_text())
  merged_new = json.loads((tmp_path / "merged" / "new.json").read_text())
  assert "ssim-rgb" not in merged_old["results"]
  assert merged_new["results"]["ssim-rgb"] == [0.8, 0.9]


@pytest.mark.slow
def test_evaluate_grayscale_model_on_luma_and_relaxed_vs_real(
    gray_model_path, rgb_model_path, tmp_path):
  # relaxed_vs_real takes 128x128 patches of the images that have them.
  for k, (h, w) in enumerate([(40, 56), (136, 144)]):
    Image.fromarray(synthetic_image(h, w)).save(tmp_path / f"{k}.png")
  out = tmp_path / "results"
  assert run_cli("evaluate", tmp_path, "--model", rgb_model_path, "--model",
                 gray_model_path, "--output_dir", out, "--codecs", "jpeg") == 0
  gray = json.loads((out / "bls2017-gray.json").read_text())
  assert len(gray["results"]["bpp"]) == 1
  rows = [r for r in csv.DictReader(open(out / "per_image.csv"))
          if r["method"] == "bls2017-gray"]
  assert len(rows) == 2
  gray_codec = codec.load(gray_model_path)
  for row in rows:
    # The grayscale curve is measured on the luma of the RGB images.
    luma = np.asarray(Image.open(tmp_path / row["image"]).convert("L"))
    luma = luma[..., None]
    x_hat = gray_codec.decompress(gray_codec.compress(luma))
    assert float(row["psnr"]) == pytest.approx(metrics.psnr(luma, x_hat),
                                               abs=1e-4)
  # relaxed_vs_real: the paper's figure 4 check of a model on N patches.
  assert run_cli("relaxed_vs_real", tmp_path, "--model", rgb_model_path,
                 "--patches", 6, "--output_dir", out) == 0
  relaxed = json.loads((out / "relaxed_vs_real.json").read_text())
  assert relaxed["summary"]["patches"] == 6 and len(relaxed["patches"]) == 6
  assert relaxed["machine"]["cpu"] == timing.machine()["cpu"]
  assert relaxed["summary"]["model"] == str(rgb_model_path)
  assert relaxed["summary"]["fingerprint"] == (
      codec.load(rgb_model_path).fingerprint.hex())
  for name in ("relaxed_vs_real_rate.png", "relaxed_vs_real_mse.png"):
    assert (out / name).stat().st_size > 5000, name


def test_paired_difference_interval():
  # Differences 1, 2, 3: mean 2, standard error 1/sqrt(3), t(0.975, 2).
  from scipy import stats  # pylint: disable=import-outside-toplevel
  d = evaluation.paired_difference([2., 4., 6.], [1., 2., 3.])
  half = stats.t.ppf(0.975, 2) / np.sqrt(3)
  assert d["mean"] == 2 and d["ci95"] == pytest.approx([2 - half, 2 + half])
  assert evaluation.paired_difference([2., 3.], [1., 2.])["ci95"] == [1, 1]
  assert np.isnan(evaluation.paired_difference([2.], [1.])["ci95"]).all()


def test_ablation_figures_compare_each_model_with_the_first():
  rows = {"a": [{"psnr": 30., "bpp": 1.}, {"psnr": 32., "bpp": 2.}],
          "b": [{"psnr": 29., "bpp": 0.5}, {"psnr": 30., "bpp": 1.5}]}
  figures = evaluation.ablation_figures(rows, {"a": {"x": 1}, "b": {"x": 2}})
  assert figures["a"] == {"psnr": 31., "bpp": 1.5, "images": 2, "x": 1}
  assert figures["b"]["vs_first"]["model"] == "a"
  assert figures["b"]["vs_first"]["psnr"]["mean"] == -1.5
  assert figures["b"]["vs_first"]["bpp"]["ci95"] == [-0.5, -0.5]


def test_ablation_table_gives_means_then_differences_with_intervals():
  rows = {"a": [{"psnr": 30., "bpp": 1.}, {"psnr": 32., "bpp": 2.}],
          "b": [{"psnr": 29., "bpp": 0.5}, {"psnr": 30., "bpp": 1.5}]}
  table = tables.ablation_table(
      evaluation.ablation_figures(rows, {"a": {}, "b": {}}),
      {"a": "A", "b": "B"}, {"bpp": ("bpp", 3), "psnr": ("PSNR (dB)", 2)})
  assert table.splitlines()[2:] == [
      "| A | 1.500 | 31.00 |",
      "| B | -0.500 [-0.500, -0.500] | -1.50 [-7.85, +4.85] |"]  # t(1) 12.71

"""The generated blocks of the pages: BLOCKS[name](root) -> Markdown text.

Each reads committed results under the repository root and renders one
table or paragraph; where the prose around a block draws a conclusion from
the figures, the block checks it (`_require`) so that a rerun that changes
the conclusion fails loudly instead of leaving the prose wrong.
"""

import csv
import json
import os
import re
import textwrap

from bls2017.docs import tables

BLOCKS = {}


class DocsError(ValueError):
  """A page's markers are broken, a block is unknown, or the results no
  longer bear out the reading around a block."""


def block(name):
  def register(generate):
    BLOCKS[name] = generate
    return generate
  return register


def _json(root, *parts):
  with open(os.path.join(root, *parts), encoding="utf-8") as f:
    return json.load(f)


def _csv(root, *parts):
  with open(os.path.join(root, *parts), encoding="utf-8") as f:
    return list(csv.DictReader(f))


def _require(condition, reading):
  if not condition:
    raise DocsError(f"the results no longer bear out: {reading}")


def _results(root, *paths):
  from bls2017.core import evaluation  # pylint: disable=import-outside-toplevel
  return evaluation.read_results([os.path.join(root, *p) for p in paths])


def _minus(value, digits):
  """A signed figure with a typographic minus, as the prose writes it."""
  return f"{'+' if value >= 0 else chr(0x2212)}{abs(value):.{digits}f}"


def _fill(text, indent=""):
  """A generated paragraph in lines of at most 76 characters; no word, path
  or link is broken. indent: before every line but the first (a list
  item's continuation)."""
  return textwrap.fill(text, 76, subsequent_indent=indent,
                       break_long_words=False, break_on_hyphens=False)


def _range(values, digits, unit=""):
  return f"{min(values):.{digits}f}–{max(values):.{digits}f}{unit}"


# ---------------------------------------------------------------- the zoo

@block("zoo-table")
def _zoo_table(root):
  del root  # The catalog ships inside the package.
  from bls2017 import zoo  # pylint: disable=import-outside-toplevel
  return tables.zoo_table(zoo.catalog())


@block("demo")
def _demo(root):
  record = _json(root, "results/demo/grace_hopper.jpg.json")
  ours, jpeg = record["codecs"]
  _require((ours["codec"], jpeg["codec"]) == ("bls2017", "jpeg"),
           "the demo compares the model with JPEG")
  return _fill(
      f"On the sample photo ({record['width']}×{record['height']}) the "
      f"default model, `{record['model']}`, gives {ours['psnr']:.2f} dB at "
      f"{ours['bpp']:.3f} bpp, JPEG {jpeg['psnr']:.2f} dB at "
      f"{jpeg['bpp']:.3f} bpp (quality {jpeg['quality']}): "
      f"{_minus(ours['psnr'] - jpeg['psnr'], 2)} dB "
      "([`results/demo/`](results/demo/), `bls2017 demo --output_dir "
      "results/demo`).")


@block("zoo-replaced")
def _zoo_replaced(root):
  del root  # The records ship inside the package.
  from bls2017 import zoo  # pylint: disable=import-outside-toplevel
  return tables.replaced_table(zoo.catalog(), zoo.CATALOG.replaced())


@block("zoo-origin")
def _zoo_origin(root):
  """Which trainer made each shipped model, and which started from random
  weights (a record without a warm start), from models.json."""
  del root
  from bls2017 import zoo  # pylint: disable=import-outside-toplevel
  catalog = zoo.catalog()
  by_trainer = {}
  for name, entry in catalog.items():
    trainer = ("the ladder campaign (`python -m bls2017.campaign`)"
               if "campaign" in entry["training"] else "`bls2017 train`")
    by_trainer.setdefault(trainer, []).append(name)
  sentences = []
  for trainer, names in by_trainer.items():
    bases = [n for n in names if "warm_start" not in catalog[n]["training"]]
    _require(bases, f"some model of {trainer} started from random weights")
    others = len(names) - len(bases)
    rest = (f", the {'other' if others == 1 else 'others'} warm-started "
            "from a trained neighbour" if others else "")
    sentences.append(f"{_names(names)} by {trainer}: {_names(bases)} from "
                     f"random weights{rest}.")
  return _fill(" ".join(sentences))


def _rgb_ladder_before_the_campaign():
  """The shipped RGB models' catalog entries, required to predate the
  campaign: the prose around the blocks that call this describes them."""
  from bls2017 import zoo  # pylint: disable=import-outside-toplevel
  catalog = zoo.catalog()
  entries = [catalog[name] for name in zoo.ladder(3)]
  _require(not any("campaign" in e["training"] for e in entries),
           "the RGB models predate the ladder campaign (a promotion "
           "replaced some: say what they are now)")
  return entries


@block("zoo-successors")
def _zoo_successors(root):
  """The README's sentence on what the RGB ladder lacks."""
  del root
  _rgb_ladder_before_the_campaign()
  return _fill(
      "They had a small fraction of the paper's training; the [ladder "
      "campaign](docs/training.md#the-ladder-campaign-the-papers-ladder-on-"
      "two-cpu-cores) is training their successors. How they were trained, "
      "BD-rates against JPEG, JPEG 2000, WebP and AVIF, equal-size "
      "comparisons, speed and int8 model files: [docs/zoo.md](docs/zoo.md).")


@block("zoo-gap")
def _zoo_gap(root):
  """The zoo page's sentence on what would close the gap to the paper."""
  del root
  from bls2017 import zoo  # pylint: disable=import-outside-toplevel
  entries = _rgb_ladder_before_the_campaign()
  steps = sorted(zoo.total_steps(e) for e in entries)
  filters = sorted({e["num_filters"] for e in entries})
  _require(filters == [128], "the RGB models have 128 filters")
  return _fill(
      f"{steps[0]:,} to {steps[-1]:,} CPU steps per model (warm starts "
      "included) are a small fraction of the training behind the paper's "
      "results: more steps (on a GPU, the same command), and 192 filters "
      "for the highest rates, are what would close the gap.")


@block("cpu-recipe-base")
def _cpu_recipe_base(root):
  """The training page's bullet on the CPU recipe's base run: the first
  `bls2017-mse-4` (from `bls2017 train`, random weights), shipped now or
  recorded among the replaced models."""
  del root
  from bls2017 import zoo  # pylint: disable=import-outside-toplevel
  entries = [zoo.catalog().get(zoo.DEFAULT)] + [
      r["entry"] for r in zoo.CATALOG.replaced().values()
      if r["name"] == zoo.DEFAULT]
  base = [e for e in entries if e and "campaign" not in e["training"]
          and "warm_start" not in e["training"]]
  _require(len(base) == 1, f"one {zoo.DEFAULT} was trained from random "
           "weights by `bls2017 train`")
  training, figures = base[0]["training"], base[0]["validation"]
  return _fill(
      "* Cosine decay from a higher learning rate (5e-4): the "
      f"{training['steps']:,}-step run ({training['wall_time_hours']:.2f} h) "
      f"that became the first `{zoo.DEFAULT}` ({figures['bpp']:.3f} bpp / "
      f"{figures['psnr']:.2f} dB on the validation set, "
      "[zoo.md](zoo.md)).", indent="  ")


def _names(names):
  """`a`, `b` and `c`."""
  quoted = [f"`{n}`" for n in names]
  return (", ".join(quoted[:-1]) + " and " if len(quoted) > 1 else
          "") + quoted[-1]


# The classical codecs the zoo is compared with, in the pages' order.
ANCHORS = {"jpeg": "JPEG (4:2:0)", "jpeg2000": "JPEG 2000 (9/7, MCT)",
           "webp": "WebP", "avif": "AVIF"}


def _bd_files(root, folder, anchors, first):
  from bls2017.core import evaluation  # pylint: disable=import-outside-toplevel
  results = {}
  for anchor in anchors:
    results[anchor] = _json(root, folder, evaluation.bd_file_name(
        anchor, anchor == first))
    _require(results[anchor]["anchor"] == anchor,
             f"{folder}'s BD file for {anchor} is against {anchor}")
  return results


@block("zoo-bd")
def _zoo_bd(root):
  results = _bd_files(root, "results/rd", ANCHORS, "jpeg")
  return tables.bd_table("bls2017", results, ANCHORS)


@block("zoo-rate-matched")
def _zoo_rate_matched(root):
  return tables.rate_matched_table(
      "bls2017-mse-4", _csv(root, "results/rd/per_image.csv"),
      _csv(root, "results/rd/rate_matched.csv"))


@block("zoo-validation-run")
def _zoo_validation_run(root):
  timings = _json(root, "results/rd/timings.json")
  machine = timings.get("machine")
  where = (f"on {machine['cores']} cores of an {machine['cpu']}" if machine
           else "on 2 cores")
  return ("On the 24 CBSD68 validation images (481×321), real file sizes "
          "with the\n16-byte header (`bls2017 evaluate`, full results in "
          "[`results/rd/`](../results/rd/);\nwith the four codecs its "
          f"phases took {timings['total']:.0f} s {where},\n"
          "`results/rd/timings.json`).")


@block("zoo-compaction")
def _zoo_compaction(root):
  from bls2017 import zoo  # pylint: disable=import-outside-toplevel
  result = _json(root, "results/zoo/compaction.json")
  rows = {row["model"]: row for row in result["models"]}
  _require(set(zoo.catalog()) <= set(rows),
           "the compaction file covers every shipped model")
  float16 = [r for r in result["models"] if r["shipped"]["format"] ==
             "float16"]
  _require(float16, "some rows start from float16 files")

  def worst(form, rows):
    row = min(rows, key=lambda r: r[form]["psnr_change_db"])
    return f"{row[form]['psnr_change_db']:+.4f} dB ({row['model']})"
  smaller = 1 - (sum(r["int8"]["file_mib"] for r in float16) /
                 sum(r["int8_rdft"]["file_mib"] for r in float16))
  return (tables.compaction_table(result) + "\n\n" + _fill(
      f"From the {len(float16)} float16 files, the taps take "
      f"{100 * smaller:.0f} % less room than the coefficients; PSNR moves "
      f"by at worst {worst('int8', float16)} with taps and "
      f"{worst('int8_rdft', float16)} with coefficients. The rounding of "
      "the weights weighs most where the distortion is smallest, the "
      "highest rates."))


@block("evaluate-timing")
def _evaluate_timing(root):
  rows = _json(root, "results/benchmarks/evaluate_768x512.json")
  rows = rows["rows"] if isinstance(rows, dict) else rows  # Older: a list.
  phases = {row["what"].removeprefix("phase: "): row["seconds"]
            for row in rows[1:]}

  def total(word):
    return sum(s for name, s in phases.items() if word in name)

  return (f"On 2 CPU cores, 24\nphotos of 768×512 (centre crops of training "
          f"photographs) with the seven\nRGB models and the four codecs take "
          f"{rows[0]['seconds']:.0f} s in all: {total('model'):.0f} s for "
          f"the models,\n{total('sweep'):.0f} s for the four quality sweeps, "
          f"{total('matching'):.0f} s for rate matching "
          f"({phases['avif rate matching']:.0f} s of it\nAVIF's); "
          "`python -m bls2017.benchmark --evaluate DIR` measures it\n"
          "(`results/benchmarks/evaluate_768x512.json`).")


# ---------------------------------------------------------------- training

@block("training-speed")
def _training_speed(root):
  results = [_json(root, "results/benchmarks",
                   f"training_192x{patchsize}.json")
             for patchsize in (128, 256)]
  _require(all(r["config"]["num_filters"] == 192 for r in results),
           "the training benchmarks are of 192 filters")
  for result in results:
    seconds = {row["what"]: row.get("seconds") for row in result["rows"]}
    irfft = seconds["train step, fixed batch, kernels by irfft2d"]
    _require(seconds["train step, fixed batch, kernels by matrix product"]
             < irfft, "the matrix product makes the step faster")
    _require(seconds["train step, fixed batch, XLA"] > irfft,
             "XLA makes the step slower")
    _require(seconds["g_a + g_s, convolutions in mixed_bfloat16 (fwd+bwd)"]
             > seconds["g_a + g_s, convolutions in float32 (fwd+bwd)"],
             "bfloat16 convolutions are slower")
    _require({"amx_bf16", "avx512_bf16"} <= set(result["machine"]["isa"]),
             "the benchmark's CPU has bfloat16 instructions")
  return tables.training_speed_table(results)


@block("gdn-comparison")
def _gdn_comparison(root):
  from bls2017.campaign import plan as plan_lib  # pylint: disable=import-outside-toplevel
  comparison = _json(root, "campaign/gdn_comparison.json")
  models = list(comparison["models"].values())
  low, high = models[1]["vs_first"]["loss"]["ci95"]
  _require(low < 0 < high, "the two GDN forms are equal within the interval")
  _require(models[0]["steps"] == models[1]["steps"],
           "both GDN models had the same budget")
  _require({m["gdn"] for m in models} == {"paper", "simplified"},
           "the comparison is of the two forms")
  plan = plan_lib.load(os.path.join(root, "campaign", "plan.json"))
  _require({m.gdn for m in plan.models} == {"paper"},
           "the ladder's plan uses the paper's form")
  return tables.gdn_comparison_table(comparison)


# ------------------------------------------------------- related systems

RELATED_20K_SETTINGS = {
    "bls2017": ("bls2017", [f"λ = {v}" for v in
                            ("0.001", "0.003", "0.01", "0.03")]),
    "cae_admm": ("CAE-ADMM", [f"keep {v} %" for v in (5, 10, 20, 35)]),
    "content_weighted": ("content-weighted",
                         [f"λ = {v}" for v in
                          ("0.001", "0.003", "0.01", "0.03")]),
}
RELATED_20K = "results/related/20k"


def _related_20k(root):
  """The 20,000-step comparison: merged curves, BD file, training records
  (the content-weighted models were evaluated in a run of their own and
  merged into the others' curves by `bls2017 plot`)."""
  merged = _results(root, *[(RELATED_20K, f"{m}.json")
                            for m in RELATED_20K_SETTINGS])
  own = _results(root, (RELATED_20K, "content_weighted",
                        "content_weighted.json"))["content_weighted"][1]
  _require(merged["content_weighted"][1] ==
           sorted(own, key=lambda s: s["bpp"]),
           "the merged content-weighted curve is its own run's")
  records = []
  for folder in (RELATED_20K, f"{RELATED_20K}/content_weighted"):
    records += _json(root, folder, "training.json")["models"]
  _require({r["method"] for r in records} == set(RELATED_20K_SETTINGS),
           "every system of the comparison has its training records")
  _require(all(r.get("total_steps", r["steps"]) >= 20000 for r in records),
           "every model of the comparison had at least 20,000 steps")
  return merged, _json(root, RELATED_20K, "bd.json"), records


@block("related-20k-curves")
def _related_20k_curves(root):
  return tables.curves_table(_related_20k(root)[0], RELATED_20K_SETTINGS)


@block("related-20k-bd")
def _related_20k_bd(root):
  return tables.bd_methods_table(_related_20k(root)[1], {
      "cae_admm": "CAE-ADMM", "content_weighted": "content-weighted",
      "jpeg": "JPEG (4:2:0)"})


@block("related-20k-training")
def _related_20k_training(root):
  return tables.training_table(_related_20k(root)[2])


@block("related-budget")
def _related_budget(root):
  steps = [r.get("total_steps", r["steps"]) for r in _related_20k(root)[2]]
  return (
      "* All three, **training budget**: the models below had "
      f"1,000–{max(steps):,} CPU\n  steps each (the ablations 1,000 or "
      f"2,000, the comparison {min(steps):,}–{max(steps):,}),\n  far less "
      "than the papers' GPU trainings, so their figures compare the\n  "
      "machinery on equal terms, not the methods at convergence. The\n  "
      "comparison trains every "
      "system with the same\n  cosine decay of the learning rate (CAE-ADMM's "
      "described plateau halving\n  is its own default, not used there) so "
      "that the terms stay equal.\n  `results/related/train_comparison.sh "
      "TRAIN_DIR OUT_DIR` trains the\n  comparison: "
      "per system one parent of 20,000 steps at a\n  middle rate and "
      "children of 4,000 more steps each, warm-started from a\n  trained "
      "neighbour (`--warm_start`, which every system's `train` takes);\n  "
      "it resumes where it was stopped. Its models are measured below.")


@block("related-20k-reading")
def _related_20k_reading(root):
  merged, bd, _ = _related_20k(root)
  curve = {m: merged[m][1] for m in RELATED_20K_SETTINGS}
  cw, jpeg, cae = bd["content_weighted"], bd["jpeg"], bd["cae_admm"]
  top, bls = curve["content_weighted"][-1], curve["bls2017"][1]
  best = max(curve["bls2017"], key=lambda s: s["psnr"])
  above = [s["psnr"] for s in curve["cae_admm"] if s["psnr"] > best["psnr"]]
  _require(jpeg["bd_rate_psnr"] > 0 and cae["bd_rate_psnr"] > 0
           and cae["bd_rate_ms_ssim_db"] > cae["bd_rate_psnr"],
           "bls2017 is above JPEG and CAE-ADMM, most in MS-SSIM")
  _require(len(above) == 2, "two CAE-ADMM points pass bls2017's best")
  _require(top["psnr"] < bls["psnr"] and cw["bd_psnr"] < cae["bd_psnr"],
           "content-weighted is the lowest curve")
  cw_seconds = {k: [s[k] for s in curve["content_weighted"]]
                for k in ("encoding_time", "decoding_time")}
  others = [s[k] for m in ("bls2017", "cae_admm") for s in curve[m]
            for k in ("encoding_time", "decoding_time")]
  return (
      "At 20,000 steps bls2017 is above JPEG (JPEG needs "
      f"{jpeg['bd_rate_psnr']:.1f} % more bits at\nequal PSNR over the "
      "overlap). CAE-ADMM needs more bits than bls2017 at\nequal quality "
      "where the "
      "curves overlap, most in MS-SSIM; its two upper\npoints reach "
      f"{above[0]:.2f} and {above[1]:.2f} dB, above the best bls2017 point "
      f"({best['psnr']:.2f} dB\nat {best['bpp']:.3f} bpp), so the BD figures "
      "cover only the overlap given.\nContent-weighted is the lowest of the "
      f"three: {_minus(cw['bd_psnr'], 2)} dB against bls2017 at\nequal rate "
      f"over {100 * cw['bd_psnr_overlap']:.0f} % of the span, "
      f"{_minus(cw['bd_rate_psnr'], 1)} % rate at equal PSNR over the "
      f"{100 * cw['bd_rate_psnr_overlap']:.0f} %\nwhere the PSNR ranges "
      f"overlap, and its best point ({top['psnr']:.2f} dB at "
      f"{top['bpp']:.3f} bpp)\nis under bls2017's at {bls['bpp']:.3f} bpp "
      f"({bls['psnr']:.2f} dB); in the plot its upper\npoints also fall "
      "under JPEG's curve. Its coder runs the context model\nplane by plane "
      "on each plane's causal windows: "
      f"{_range(cw_seconds['encoding_time'], 2)} s to encode and\n"
      f"{_range(cw_seconds['decoding_time'], 2)} s to decode an image, where "
      "the other two, whose rate models\nare factorized, take "
      f"{_range(others, 3)} s.")


@block("related-cw-rates")
def _related_cw_rates(root):
  """The 20,000-step content-weighted models' rates against their λ, in
  the order of the evaluation's model files (cw-lLAMBDA.npz)."""
  run = _json(root, RELATED_20K, "content_weighted", "content_weighted.json")
  lmbdas = [float(v) for v in re.findall(r"cw-l([0-9.]+)\.npz",
                                         run["description"])]
  rates = run["results"]["bpp"]
  _require(len(lmbdas) == len(rates) and lmbdas == sorted(lmbdas)
           and rates == sorted(rates),
           "the content-weighted rate grows with λ")
  steps = [r.get("total_steps", r["steps"]) for r in _related_20k(root)[2]
           if r["method"] == "content_weighted"]
  return textwrap.fill(
      f"λ = {', '.join(f'{l:g}' for l in lmbdas)} give "
      f"{', '.join(f'{r:.3f}' for r in rates)} bpp after "
      f"{min(steps):,}–{max(steps):,} steps (the comparison above).", 76,
      initial_indent="  ", subsequent_indent="  ", break_long_words=False,
      break_on_hyphens=False)


# ---------------------------------------------------------------- CAE-ADMM

CAE_ADMM_MODES = {
    "cae-admm-full.npz": "ADMM as built (`--admm full`)",
    "cae-admm-no_dual.npz": "U held at 0 (`--admm no_dual`)",
    "cae-admm-off.npz": "no ADMM term, coding still pruned (`--admm off`)",
    "cae-admm-ssim.npz": "ADMM, MSE then MSE + SSIM "
                         "(`--ssim_weight 0.5 --mse_fraction 0.5`)"}
CAE_ADMM_PRUNING = {
    "cae-f0.1.npz": "keep 10 %, ADMM and pruning (the defaults)",
    "cae-nopruning.npz": "the same, trained and coded without pruning "
                         "(`--nopruning`)"}


def _same_data(results, what):
  """The sampling every model of an ablation records (files of models
  trained before it was recorded give None: their data differed)."""
  sampling = {figures.get("sampling") for figures in results.values()}
  _require(len(sampling) == 1 and None not in sampling,
           f"the {what} models trained on the same data")
  return sampling.pop()


@block("cae-admm-pruning-intro")
def _cae_admm_pruning_intro(root):
  results = _json(root, "results/related/cae_admm_ablation.json")
  sampling = _same_data(results, "pruning ablation's")
  pruned, unpruned = (results[name] for name in CAE_ADMM_PRUNING)
  return (
      "What pruning saves and costs (`results/related/cae_admm_ablation.json`):"
      " two\nmodels trained side by side with the recipe of the ADMM ablation "
      "below\n(`cae_admm train --epochs 10 --steps_per_epoch 100 "
      "--learning_rate 5e-4\n--seed 0 --keep_fraction 0.1`, the second with "
      f"`--nopruning`; {pruned['steps']:,} steps on\nthe same data (their "
      f"sampling: {sampling}), one thread each on 2 CPU cores, "
      f"{pruned['training_seconds']:.0f} s and\n"
      f"{unpruned['training_seconds']:.0f} s), measured with `cae_admm "
      "ablation`:")


@block("cae-admm-modes-intro")
def _cae_admm_modes_intro(root):
  results = _json(root, "results/related/cae_admm_modes_ablation.json")
  sampling = _same_data(results, "ADMM modes'")
  steps = {figures["steps"] for figures in results.values()}
  _require(len(steps) == 1, "every ADMM mode had the same budget")
  return (
      "What ADMM itself adds (`results/related/cae_admm_modes_ablation.json`): "
      "four\nmodels with the same seed, schedule and data (keep 10 %, "
      f"{steps.pop():,} steps of\nbatch 8 on 128×128 crops of the training "
      "photographs, Adam 5e-4 with plateau\nhalving, flips; every model "
      "cycles over the same fixed set of 800 crops, its\nsampling "
      f"\"{sampling}\" in the model files and the ablation file; Z and U "
      "per\ncrop, updated every epoch: `cae_admm train --epochs 10 --steps_per_epoch 100 "
      "--learning_rate 5e-4\n--seed 0 --admm MODE`, one thread each, two at a "
      "time on 2 CPU cores shared\nwith other work, so the recorded training "
      "seconds are not comparable), all\npruned to 10 % when coding, measured "
      "with `cae_admm ablation` on the 24 CBSD68\nimages (the set the project "
      "also chooses models on). The first row gives\nmeans; the others their "
      "difference from it, with 95 % confidence intervals\nover the images "
      "(one training seed each, so the intervals say nothing of\nseed-to-seed "
      "spread):")


@block("cae-admm-pruning")
def _cae_admm_pruning(root):
  results = _json(root, "results/related/cae_admm_ablation.json")
  return tables.ablation_table(results, CAE_ADMM_PRUNING,
                               tables.CAE_ADMM_FIGURES)


@block("cae-admm-pruning-reading")
def _cae_admm_pruning_reading(root):
  results = _json(root, "results/related/cae_admm_ablation.json")
  first_run = _json(root, "results/related/cae_admm_modes_ablation.json")[
      "cae-admm-full.npz"]
  pruned, unpruned = (results[name] for name in CAE_ADMM_PRUNING)
  spread = abs(pruned["psnr"] - first_run["psnr"])
  _require((pruned["pruning"], unpruned["pruning"]) == (True, False),
           "the two models differ in pruning")
  _require(pruned["steps"] == unpruned["steps"] == first_run["steps"],
           "the pruning models had the modes ablation's budget")
  _require(unpruned["vs_first"]["zero_fraction"]["ci95"][1] < 0
           and unpruned["vs_first"]["bpp"]["ci95"][0] > 0,
           "pruning makes latents sparser and files smaller")
  return (
      "Without pruning the model has no ADMM variables, but it cycles over "
      "the same\n800 crops in the same order, so the two differ in pruning "
      "alone. Without pruning "
      f"{100 * unpruned['zero_fraction']:.1f} % of the latents are zero and "
      f"the files take\n{unpruned['bpp']:.3f} bpp instead of "
      f"{pruned['bpp']:.3f}, for "
      f"{unpruned['vs_first']['psnr']['mean']:.2f} dB more. The first "
      "model's command is\nthat of the ADMM ablation's first row; run again, "
      f"it gave {pruned['bpp']:.3f} bpp and\n{pruned['psnr']:.2f} dB where "
      f"that run gave {first_run['bpp']:.3f} bpp and "
      f"{first_run['psnr']:.2f} dB" + (
          ": on one thread each, training\nrepeats exactly." if spread < 0.005
          else f": two runs of\none command differ by {spread:.2f} dB, a "
          "spread that intervals over images do\nnot show."))


@block("cae-admm-modes")
def _cae_admm_modes(root):
  results = _json(root, "results/related/cae_admm_modes_ablation.json")
  steps = {figures["steps"] for figures in results.values()}
  _require(steps == {1000}, "every ADMM mode had 1,000 steps")
  return tables.ablation_table(results, CAE_ADMM_MODES,
                               tables.CAE_ADMM_FIGURES)


@block("cae-admm-modes-reading")
def _cae_admm_modes_reading(root):
  results = _json(root, "results/related/cae_admm_modes_ablation.json")
  no_dual, off, ssim = (results[f"cae-admm-{m}.npz"]["vs_first"]
                        for m in ("no_dual", "off", "ssim"))
  _require(no_dual["psnr"]["ci95"][0] > 0 and off["psnr"]["ci95"][0] > 0,
           "U at 0 and no ADMM term both gain PSNR over full ADMM")
  _require(ssim["ssim"]["ci95"][0] > 0, "the SSIM schedule raises SSIM")

  def bpp(figure):
    value = figure["bpp"]["mean"]
    return f"{abs(value):.3f} bpp {'more' if value > 0 else 'less'}"

  ssim_low, ssim_high = ssim["psnr"]["ci95"]
  return _fill(
      "With its variables per crop and ten ADMM iterations in 1,000 steps, "
      "ADMM does not help at this budget (one run each, so read it with the "
      "rerun above in mind): holding U at 0 gives "
      f"{no_dual['psnr']['mean']:.2f} dB more for {bpp(no_dual)}, and no "
      f"ADMM term at all {off['psnr']['mean']:.2f} dB more for {bpp(off)} "
      "(one point each, so whether the rate buys the quality is not "
      "measured). U accumulates z − Z at every iteration in which a crop's "
      "latents stay outside the projection's support, so the pull towards "
      "Z − U keeps growing; at this budget the ADMM penalty seems to cost "
      "the reconstruction more than it saves in rate. The MSE then MSE + "
      "SSIM schedule raises "
      f"SSIM by {ssim['ssim']['mean']:.3f}, as it should, at "
      f"{bpp(ssim)}, with a PSNR change of {ssim['psnr']['mean']:+.2f} dB "
      f"[{ssim_low:+.2f}, {ssim_high:+.2f}].")


# -------------------------------------------------------- content-weighted

CW_MODELS = {"cw-l0.01.npz": "content-weighted λ = 0.01, importance map",
             "cw-nomap-l0.01.npz": "the same without importance map"}


def _cw_ablation(root):
  results = _json(root, "results/related/content_weighted_ablation.json")
  _require({figures["steps"] for figures in results.values()} == {2000},
           "the content-weighted ablation's models had 2,000 steps")
  return results


@block("cw-ablation")
def _cw_ablation_table(root):
  return tables.ablation_table(_cw_ablation(root), CW_MODELS,
                               tables.CW_FIGURES)


def _fewer(ratio):
  return f"{100 * (1 - ratio):.0f} %"


@block("cw-ablation-reading")
def _cw_ablation_reading(root):
  results = _cw_ablation(root)
  with_map, without = (results[name] for name in CW_MODELS)
  gain = without["vs_first"]["psnr"]["mean"]
  return (
      "\"Codes kept\" is the fraction of codes the map keeps; \"context "
      "model bpp\"\nand \"factorized bpp\" are the information content of "
      "the same codes\n(importance map included) under the context model "
      "and under per-channel\nfactorized tables fitted to them; \"factorized "
      "file bpp\" is the real size\nwhen the kept codes are range-coded with "
      "those tables in one string. The\ncontext model codes the same codes "
      f"in {_fewer(with_map['context_bpp'] / with_map['factorized_bpp'])} "
      "(with the map) and "
      f"{_fewer(without['context_bpp'] / without['factorized_bpp'])}\n"
      "(without) fewer bits; as real files, "
      f"{_fewer(with_map['bpp'] / with_map['factorized_file_bpp'])} and "
      f"{_fewer(without['bpp'] / without['factorized_file_bpp'])} fewer. "
      "The map spends\n"
      f"{_fewer(with_map['bpp'] / without['bpp'])} fewer bits than keeping "
      f"every code, for {gain:.1f} dB. (The model without\nthe map has no "
      "mask, so the mask gradient does not touch it.)")


@block("cw-decoders")
def _cw_decoders(root):
  return tables.cw_decoder_table(_cw_ablation(root), {
      "cw-l0.01.npz": "importance map",
      "cw-nomap-l0.01.npz": "no importance map"})


@block("cw-decoders-reading")
def _cw_decoders_reading(root):
  results = _cw_ablation(root)
  with_map, without = (results[name] for name in CW_MODELS)
  slower = [f["sequential_decode_s"] / f["slanted_decode_s"]
            for f in (with_map, without)]
  per_code = [1e6 * f["sequential_decode_s"] / f["kept_codes"]
              for f in (with_map, without)]
  return (
      "The file format's plane decoder evaluates each plane's causal "
      "windows,\nvectorised across the plane, in the exported TensorFlow "
      "graph: every layer\nof the context model runs once per position over "
      "the image. Code by code\n(NumPy on a 17 × 53-input window per code, "
      "and `constriction`'s range\ncoder, which decodes one symbol at a "
      f"time) costs about {_range(per_code, 0)} µs a code in\nthis run, so "
      f"it is {slower[0]:.1f}× slower than the planes at "
      f"{100 * with_map['kept_fraction']:.0f} % of codes kept and\n"
      f"{slower[1]:.0f}× when every code is kept. The first plane decoder "
      "ran the whole volume\nthrough the context model at every plane: "
      "`python -m\ncontent_weighted.benchmark` times the three on random "
      "codes of the same\nvolume (random weights, each decoder checked;\n"
      "`results/benchmarks/content_weighted_decoders.json`):")


@block("cw-decoders-benchmark")
def _cw_decoders_benchmark(root):
  return tables.cw_decoders_benchmark_table(
      _json(root, "results/benchmarks/content_weighted_decoders.json"))


@block("cw-decoders-benchmark-reading")
def _cw_decoders_benchmark_reading(root):
  timings = _json(root, "results/benchmarks/content_weighted_decoders.json")
  rows = timings["by_kept_fraction"]
  ratios = [row["volume"]["decode_s"] / row["windows"]["decode_s"]
            for row in rows.values()]
  fewest = rows["0.1"]
  ratio = fewest["sequential"]["decode_s"] / fewest["windows"]["decode_s"]
  with_map = _cw_ablation(root)["cw-l0.01.npz"]
  overhead = 100 * (with_map["bpp"] / with_map["context_bpp"] - 1)
  sequential = 100 * (with_map["sequential_file_bpp"] /
                      with_map["context_bpp"] - 1)
  planes = 132  # C + H + W - 2 for a 481x321 image's code volume.
  lengths_bpp = planes * 16 / (481 * 321)
  return (
      f"In that run the windows decode in {_range(ratios, 0)}× less time "
      "than the whole-volume\npasses, and "
      f"{ratio:.1f}× less than code by code even at 10 % of codes kept.\n"
      "One stream still removes the files' coding overhead: the plane files "
      "are\n"
      f"{overhead:.1f} % above their information content with the map "
      f"({with_map['bpp']:.3f} vs\n{with_map['context_bpp']:.3f} bpp; the "
      f"2-byte lengths of the {planes} plane strings alone cost "
      f"{lengths_bpp:.3f}\nbpp at 481×321, the rest is each string's "
      "termination and the 16-bit\nrounding of the CDFs), the code-by-code "
      f"streams {sequential:.1f} %. The files stay\nplane by plane because "
      "that decoder is the fast one and runs in the\nexported SavedModel "
      "(TFC's range decoder needs every CDF of a string before\nit decodes "
      "the first symbol, so it cannot code code by code).")


CW_MECHANISMS = {
    "cw-l0.01.npz": "GDN transforms, band gradient (the model above)",
    "cw-relaxed-l0.01.npz": "two-stage mask, relaxed for the first half "
                            "(`--relaxed_fraction=0.5`)",
    "cw-dense-l0.01.npz": "dense-block transforms (`--transform=dense`)"}


def _cw_mechanisms(root):
  results = _json(root, "results/related/"
                  "content_weighted_mechanisms_ablation.json")
  _require({figures["steps"] for figures in results.values()} == {2000}
           and results["cw-relaxed-l0.01.npz"]["relaxed_until"] == 1000
           and results["cw-dense-l0.01.npz"]["transform"] == "dense",
           "the mechanisms' models: 2,000 steps, relaxed half, dense")
  return results


@block("cw-mechanisms")
def _cw_mechanisms_table(root):
  return tables.ablation_table(_cw_mechanisms(root), CW_MECHANISMS,
                               tables.CW_MECHANISM_FIGURES)


@block("cw-mechanisms-reading")
def _cw_mechanisms_reading(root):
  results = _cw_mechanisms(root)
  relaxed = results["cw-relaxed-l0.01.npz"]["vs_first"]
  dense = results["cw-dense-l0.01.npz"]["vs_first"]

  def dominates(d):  # Fewer bits and more PSNR, both beyond their CIs.
    return d["bpp"]["ci95"][1] < 0 and d["psnr"]["ci95"][0] > 0

  _require(not dominates(relaxed) and not dominates(dense),
           "neither mechanism beats the defaults at both rate and quality")
  _require(dense["psnr"]["ci95"][1] < 0, "the dense transforms lose PSNR")

  def change(d, key, unit, digits):
    low, high = d[key]["ci95"]
    return (f"{d[key]['mean']:+.{digits}f} {unit} [{low:+.{digits}f}, "
            f"{high:+.{digits}f}]")

  return _fill(
      "Neither moves the project's defaults. Two-stage training changes the "
      f"rate by {change(relaxed, 'bpp', 'bpp', 3)} and PSNR by "
      f"{change(relaxed, 'psnr', 'dB', 2)}, the dense-block transforms by "
      f"{change(dense, 'bpp', 'bpp', 3)} and "
      f"{change(dense, 'psnr', 'dB', 2)}. Neither gains both rate and "
      "quality, and with one model each, which is better at equal rate is "
      "not measured (that needs a curve of several λ each), so the simpler "
      "choices stay: the single-stage band gradient and the GDN transforms. "
      "At 2,000 steps this says nothing of either at convergence.")


CW_MAP = {"cw-l0.01.npz": "map under its fitted factorized tables (default)",
          "cw-ctxmap-l0.01.npz": "map in the context model's volume "
                              "(`--map_model=context`)"}


def _cw_map(root):
  results = _json(root, "results/related/content_weighted_map_ablation.json")
  base, in_volume = (results[name] for name in CW_MAP)
  _require((base["map_model"], in_volume["map_model"]) ==
           ("factorized", "context") and
           {base["steps"], in_volume["steps"]} == {2000},
           "the map models: factorized and context, 2,000 steps")
  # Same codes and map in both files: only their coding differs.
  for figure in ("psnr", "kept_codes", "map_factorized_bpp"):
    _require(in_volume["vs_first"][figure]["ci95"] == [0.0, 0.0],
             f"both map models give the same {figure}")
  return results


@block("cw-map")
def _cw_map_table(root):
  return tables.ablation_table(_cw_map(root), CW_MAP, tables.CW_MAP_FIGURES)


@block("cw-map-intro")
def _cw_map_intro(root):
  base = _cw_map(root)["cw-l0.01.npz"]
  return (
      "Coding the importance map by the context model\n"
      "(`results/related/content_weighted_map_ablation.json`): two models "
      "trained\nwith the first model's recipe, the second with "
      "`--map_model=context`, and\nmeasured on the same 24 CBSD68 images. "
      "The context model's loss trains\nthe context model alone, so with the "
      "same seed both trainings gave the\nsame encoder, map and decoder, and "
      "the two files hold the same codes and\nthe same map: the rows differ "
      "only in how the map (and, through the\nmap's slice, the codes) are "
      "coded. (The first model is the ablations' first:\n"
      f"{base['bpp']:.3f} bpp and {base['psnr']:.2f} dB.)")


@block("cw-map-reading")
def _cw_map_reading(root):
  results = _cw_map(root)
  base, in_volume = (results[name] for name in CW_MAP)
  saved = -in_volume["vs_first"]["bpp"]["mean"] / base["bpp"]
  fewer = 1 - in_volume["map_bpp"] / in_volume["map_factorized_bpp"]
  planes = in_volume["vs_first"]["slanted_decode_s"]
  low, high = planes["ci95"]
  sequential = in_volume["vs_first"]["sequential_decode_s"]["mean"]
  return (
      f"The context model codes the map in {100 * fewer:.0f} % fewer bits "
      f"than its fitted\ntables ({in_volume['map_bpp']:.4f} against "
      f"{in_volume['map_factorized_bpp']:.4f} bpp); the file is "
      f"{100 * saved:.1f} % smaller at\nthe same reconstruction. Decoding "
      f"with the planes took\n{1000 * planes['mean']:.0f} ms more per image "
      f"in this run ({1000 * low:+.0f} to {1000 * high:+.0f} ms: one more "
      "plane,\nand masked_a's share from the mask computed plane by plane, "
      "since the\nmask is not known before the first plane); code by code,\n"
      f"{1000 * sequential:.0f} ms more (the coder visits every position of "
      "the volume in\norder, the map's cells included, and skips the dropped "
      "codes as it\nlearns the mask).")


# ------------------------------------------------------------------ Kodak

KODAK = "results/kodak"
KODAK_ANCHORS = {"paper": "the paper's published curve", **ANCHORS}


@block("kodak-bd")
def _kodak_bd(root):
  results = _bd_files(root, KODAK, KODAK_ANCHORS, "paper")
  return tables.bd_table("bls2017", results, KODAK_ANCHORS)


@block("kodak-curve")
def _kodak_curve(root):
  models = [r["model"] for r in _json(root, KODAK, "training.json")["models"]]
  merged = _results(root, (KODAK, "bls2017.json"))
  return tables.curves_table(merged, {"bls2017": ("bls2017", models)})


@block("kodak-paper-gap")
def _kodak_paper_gap(root):
  models = [r["model"] for r in _json(root, KODAK, "training.json")["models"]]
  ours = _json(root, KODAK, "bls2017.json")["results"]
  paper = _json(root, "results/published/paper_kodak.json")["results"]
  return tables.reference_gap_table(models, ours, paper,
                                    "the paper's curve")


@block("kodak-machine")
def _kodak_machine(root):
  machine = _json(root, KODAK, "bls2017.json")["machine"]
  libraries = machine["codec_libraries"]
  jpeg = (f"libjpeg-turbo {libraries['libjpeg-turbo']}"
          if libraries.get("libjpeg-turbo") else
          f"libjpeg {libraries['libjpeg']}")
  return (f"Measured on {machine['cpu']} ({machine['cores']} cores) with "
          f"TensorFlow {machine['tensorflow']}, TFC "
          f"{machine['tensorflow-compression']} and Pillow "
          f"{machine['Pillow']}; the classical codecs are {jpeg}, OpenJPEG "
          f"{libraries['openjpeg']}, libwebp {libraries['libwebp']} and "
          f"libavif {libraries['libavif']}, as Pillow reports them "
          "(every results file records its machine).")


# ------------------------------------------------------------ the campaign

@block("campaign-status")
def _campaign_status(root):
  from bls2017.campaign import plan as plan_lib  # pylint: disable=import-outside-toplevel
  plan = plan_lib.load(os.path.join(root, "campaign", "plan.json"))
  return tables.campaign_table(plan,
                               _json(root, "campaign", "progress.json"))


# The campaign's base snapshot stored each way, measured on its own since
# the kernels facing the image stay float16 (the zoo's compaction file has
# it as it was before).
CAMPAIGN_BASE_COMPACTION = "results/zoo/compaction_campaign_base.json"


@block("campaign-package")
def _campaign_package(root):
  """What the plan's ladder will weigh, from the sizes of the base snapshot
  (192 filters) stored each way and of the grayscale models."""
  from bls2017.campaign import plan as plan_lib  # pylint: disable=import-outside-toplevel
  plan = plan_lib.load(os.path.join(root, "campaign", "plan.json"))
  rows = {row["model"]: row for row in _json(
      root, "results/zoo/compaction.json")["models"]}
  base = _json(root, CAMPAIGN_BASE_COMPACTION)["models"][0]
  _require(base["model"] == "campaign/snapshots/rgb-q4.npz",
           "the base snapshot's sizes are measured")
  rgb = [m for m in plan.models if m.channels == 3]
  gray = [m for m in plan.models if m.channels == 1]
  _require({m.filters for m in rgb} == {192} and
           {m.filters for m in gray} == {128},
           "the plan's RGB models have 192 filters, its gray ones 128")
  mb = 2 ** 20 / 1e6
  total = mb * (sum(base[m.weights]["file_mib"] for m in rgb) +
                sum(rows[m.zoo][m.weights]["file_mib"] for m in gray))
  coefficients = [m.name for m in rgb if m.weights == "int8_rdft"]
  earlier = [m.name for m in gray if m.weights == "int8_rdft"]
  _require(total <= 40, "the plan's zoo fits in 40 MB")
  return _fill(
      f"The package: stored as the plan says (each model's `weights`), the "
      f"{len(rgb)} RGB models with 192 filters and {len(gray)} gray ones "
      f"with 128 weigh {total:.1f} MB, from the sizes of the base snapshot "
      f"(`{CAMPAIGN_BASE_COMPACTION}`) and the gray models "
      "(`results/zoo/compaction.json`), within the 40 MB the package may "
      "take: every model keeps the paper's width. Kernels are stored as "
      "int8 taps, except the two that face the image, which stay float16 "
      "(at high rates their rounding is most of what int8 costs)" + (
          f", and in {', '.join(coefficients)}, whose rates are so high "
          "that the taps' rounding shows (see [the zoo's page]"
          "(zoo.md#compact-model-files)) and which keep int8 RDFT "
          "coefficients" if coefficients else "") + (
          f" ({', '.join(earlier)} finished before the taps were an option "
          "and keep the coefficients too)" if earlier else "") +
      ". Each finished model is "
      "validated again as float16, and what its storage costs is recorded "
      "with it.")


# ------------------------------------------------------- the zoo's speed

def _benchmark_rows(root, name):
  """{what: row} of a `bls2017.benchmark` file (older files: a list)."""
  content = _json(root, "results/benchmarks", f"{name}.json")
  rows = content["rows"] if isinstance(content, dict) else content
  return {row["what"]: row for row in rows}


@block("zoo-relaxed-vs-real")
def _zoo_relaxed_vs_real(root):
  summary = _json(root, "results/rd/relaxed_vs_real.json")["summary"]
  bias = summary["rate_bias_bpp"]
  return (
      f"On {summary['patches']} random {summary['patchsize']}×"
      f"{summary['patchsize']} patches the relaxed (noise) rate of "
      f"`{summary['model']}`\n"
      f"{'overestimates' if bias < 0 else 'underestimates'} the real one by "
      f"{abs(bias):.3f} bpp and the real MSE is "
      f"{100 * abs(summary['mse_ratio_real_to_relaxed'] - 1):.1f} % "
      f"{'above' if summary['mse_ratio_real_to_relaxed'] > 1 else 'below'} "
      "the\nrelaxed MSE (the paper's figure 4 check).")


@block("zoo-speed")
def _zoo_speed(root):
  small = _benchmark_rows(root, "codec_default_sizes")
  large = {size: _benchmark_rows(root, f"codec_{size}")
           for size in ("3840x2160", "7680x4320")}

  def seconds(rows, what, digits):
    return f"{rows[what]['seconds']:.{digits}f} s"

  def memory(rows):
    return f"{rows['peak memory (MiB)']['mebibytes']:,.0f} MiB"

  text = [
      "Speed on 2 CPU cores (`python -m bls2017.benchmark --skip_training`,",
      "medians of 5, [`results/benchmarks/codec_default_sizes.json`]"
      "(../results/benchmarks/codec_default_sizes.json)):",
      f"model load {seconds(small, 'model load (s)', 1)}; 768×512 encode "
      f"{seconds(small, 'encode 768x512', 2)}, decode "
      f"{seconds(small, 'decode 768x512', 2)};",
      f"1920×1080 encode {seconds(small, 'encode 1920x1080', 2)}, decode "
      f"{seconds(small, 'decode 1920x1080', 2)}; peak memory "
      f"{memory(small)}. Large",
      "images, one run each (`--sizes 3840x2160 --repeats 1` and",
      "`--sizes 7680x4320 --repeats 1`, [`results/benchmarks/`]"
      "(../results/benchmarks/)):"]
  parts = []
  for size, rows in large.items():
    width, height = size.split("x")
    parts.append(f"{width}×{height} encode "
                 f"{seconds(rows, f'encode {size}', 1)}, decode "
                 f"{seconds(rows, f'decode {size}', 1)}, peak memory "
                 f"{memory(rows)}")
  text.append("; ".join(parts) + ".")
  wide = _json(root, "results/benchmarks/codec_192_filters_768x512.json")
  rows = {row["what"]: row for row in wide["rows"]}
  _require(wide["model"]["num_filters"] == 192, "the wide run has 192 filters")
  text.append(_fill(
      "With the paper's 192 filters (the campaign's base model, "
      f"`--model {wide['model']['model']}`, fingerprint "
      f"{wide['model']['fingerprint']}, "
      "[`results/benchmarks/codec_192_filters_768x512.json`]"
      "(../results/benchmarks/codec_192_filters_768x512.json)): 768×512 "
      f"encode {seconds(rows, 'encode 768x512', 2)}, decode "
      f"{seconds(rows, 'decode 768x512', 2)}; peak memory {memory(rows)}."))
  return "\n".join(text)


@block("zoo-commands")
def _zoo_commands(root):
  rows = _benchmark_rows(root, "commands_768x512")
  bare = rows["process: import tensorflow, tfc"]["seconds"]
  compress = rows["process: bls2017 compress 768x512"]
  decompress = rows["process: bls2017 decompress 768x512"]
  first = rows["process: bls2017 compress 768x512, first use (exports the "
               "SavedModels)"]
  return (
      "As a user runs them, each command a fresh process (`--sizes 768x512\n"
      "--command_repeats 5`, medians,\n"
      "[`results/benchmarks/commands_768x512.json`]"
      "(../results/benchmarks/commands_768x512.json)):\n"
      f"`bls2017 compress` of a 768×512 photo takes {compress['seconds']:.1f}"
      f" s and `decompress` {decompress['seconds']:.1f} s,\n"
      f"{compress['ratio_to_import']:.2f}× and "
      f"{decompress['ratio_to_import']:.2f}× a bare `import tensorflow, "
      f"tensorflow_compression` ({bare:.1f} s)\n"
      "on the same machine. The commands run the model's Compressor and\n"
      "Decompressor as SavedModels from a cache "
      "(`bls2017.core.saved_codec`), so\nthey build no Keras model and "
      "trace nothing; the same bytes and errors as\nthe Keras codec (tests). "
      "The first use of a model file exports them:\n"
      f"{first['seconds']:.1f} s ({first['ratio_to_import']:.2f}×). The "
      "cache is `~/.cache/bls2017` (or\n`$XDG_CACHE_HOME/bls2017`; "
      "`BLS2017_CACHE=DIR` puts it elsewhere,\n`BLS2017_CACHE=off` builds "
      "the Keras codec each time); an entry is keyed by\nthe model file's "
      "contents, the bitstream version and TensorFlow's version.")


# --------------------------------------------------------- the JAX twin

_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _scientific(value):
  """2.77e-06 -> '2.8·10⁻⁶'."""
  mantissa, exponent = f"{value:.1e}".split("e")
  return f"{mantissa}·10{str(int(exponent)).translate(_SUPERSCRIPTS)}"


@block("jax-equivalence")
def _jax_equivalence(root):
  cases = _json(root, "results/benchmarks/jax_equivalence.json")["cases"]
  forward = max(max(case["forward"].values()) for case in cases.values())
  random = max(case["worst_gradient_error"] for name, case in cases.items()
               if name.startswith("random"))
  shipped = [cases["shipped bls2017-mse-4"], cases["shipped bls2017-gray-1"]]
  _require(all(case["keras_float32_gradient"] > case["jax_float32_gradient"]
               for case in shipped),
           "the TensorFlow side is the further from exact")

  def pair(key):
    return " / ".join(_scientific(case[key]) for case in shipped)

  names = "; ".join(cases)
  return _fill(
      "On y, x̂, the bits of every latent, bpp and MSE the two agree to "
      f"{_scientific(forward)} or better in every case ({names}); the "
      "gradients of R + λ·D for every variable to "
      f"{_scientific(random)} with random weights and\n"
      f"{pair('worst_gradient_error')} with the shipped RGB / gray weights. "
      "Against the twin run\nin float64, the Keras float32 gradients of the "
      f"shipped models are off by\n{pair('keras_float32_gradient')} and the "
      f"JAX float32 ones by {pair('jax_float32_gradient')}: the "
      "TensorFlow side is the further from exact.")


def _jax_speed_rows(root):
  return _json(root, "results/benchmarks/jax_training_cpu.json")["rows"]


@block("jax-training-speed")
def _jax_training_speed(root):
  rows = _jax_speed_rows(root)

  def step(filters, trainer, models=1, form="unrolled"):
    return next(r["seconds_per_step"] for r in rows
                if r["filters"] == filters and r["trainer"] == trainer
                and r["models"] == models
                and r.get("ladder_form", form) == form)

  filters = sorted({r["filters"] for r in rows})
  _require(all(step(f, "keras") < step(f, "jax") for f in filters),
           "on a CPU the Keras step stays the faster one")
  slower = [step(f, "jax", 2, "vmap") / step(f, "jax", 2) for f in filters]
  table = ["| filters | `bls2017 train` | JAX, 1 model | JAX, 2-model "
           "ladder (unrolled / vmap) |", "|---|---|---|---|"]
  table += [f"| {f} | {step(f, 'keras'):.2f} s/step | "
            f"{step(f, 'jax'):.2f} s/step | {step(f, 'jax', 2):.2f} / "
            f"{step(f, 'jax', 2, 'vmap'):.2f} s/step |" for f in filters]
  return "\n".join(table) + (
      "\n\nOn a CPU the Keras step stays the faster one, and batching the "
      "ladder with\n`vmap` turns the convolutions into grouped ones that run "
      f"{_range(slower, 1)}× slower\nthan one subgraph per model "
      "(`--ladder_form=unrolled`, the default).")


@block("jax-file-sizes")
def _jax_file_sizes(root):
  sizes = {r["filters"]: r for r in _jax_speed_rows(root)
           if r["trainer"] == "jax"}
  ordered = sorted(sizes)

  def both(key):
    return " and ".join(f"{sizes[f][key]:.1f}" for f in ordered)

  return (
      "Sizes (`results/benchmarks/jax_training_cpu.json`), at "
      f"{' and '.join(map(str, ordered))} filters:\na weights file in "
      f"float16 is {both('weights_file_mib')} MiB, a checkpoint (parameters "
      f"and\nAdam's two moments in float32) {both('checkpoint_mib')} MiB.")


# ------------------------------------------------------------ conformance

@block("conformance-matrix")
def _conformance_matrix(root):
  result = _json(root, "results/conformance/matrix.json")
  runs = result["runs"]
  failed = [run for run in runs if run["problems"]]
  _require(not failed, "every file conforms under every setting")
  # Past format versions (NAME.vN) are to be refused, not decoded.
  past = [name for name in result["files"] if ".v" in name]
  refused = (f", and the past format versions' ({', '.join(past)}) "
             "refused by name" if past else "")
  return _fill(
      f"Under all {len(runs)} settings (`python -m bls2017.conformance "
      "--matrix=results/conformance/matrix.json`: oneDNN on and off, 1 and "
      "2 threads, oneDNN's instructions up to the CPU's own or AVX2 alone), "
      f"each in a fresh process, all {len(result['files']) - len(past)} "
      "current files decoded to "
      "their recorded latents (exactly) and images (within 1), the "
      "content-weighted one, whose "
      "decoder builds its CDFs from the float outputs of its context model, "
      f"among them{refused} (on a {result['machine']['cores']}-core "
      f"{result['machine']['cpu']}; another CPU is the test that remains).")


@block("fuzz-run")
def _fuzz_run(root):
  run = _json(root, "results/fuzz/atheris_1000000.json")
  outcomes = run["outcomes_of_the_first_inputs"]
  reached = outcomes["payload refused"] + outcomes["decoded"]
  _require(run["executions"] >= 1_000_000 and not run["crashes"]
           and not run["hangs"], "a million executions, no crash, no hang")
  return _fill(
      f"One long run (`python -m bls2017.fuzz --runs {run['runs_asked']}`, "
      "[`results/fuzz/atheris_1000000.json`]"
      "(../results/fuzz/atheris_1000000.json)): "
      f"{run['executions']:,} executions in {run['wall_seconds'] / 60:.0f} "
      f"minutes on a {run['machine']['cores']}-core "
      f"{run['machine']['cpu']}, {run['crashes']} crashes, "
      f"{run['hangs']} hangs (an input over {run['timeout_seconds']} s), "
      f"the slowest input under {run['slowest_input_seconds'] + 1} s, peak "
      f"memory {run['peak_memory_mib']:,} MiB, {run['coverage_edges']} "
      "edges of the project's Python covered (the decoders' work is in "
      "TensorFlow graphs, which are not instrumented). Of the inputs "
      f"counted, {_share(outcomes, 'header refused')} were refused by the "
      "header's checks, "
      f"{_share(outcomes, 'another model, or too large')} named no model "
      "of the run or a larger image than it decodes, and of those that "
      f"reached a payload decoder ({reached:,}) "
      f"{outcomes['payload refused']:,} were refused and "
      f"{outcomes['decoded']:,} decoded.")


def _share(counts, key):
  return f"{100 * counts[key] / sum(counts.values()):.1f} %"


# ------------------------------------------------------------ the tutorial

MNIST_SWEEP = "results/mnist/sweep.json"


@block("mnist-sweep")
def _mnist_sweep(root):
  sweep = _json(root, MNIST_SWEEP)
  machine = sweep["machine"]
  lines = [_fill("`python -m mnist_demo sweep --mnist_dir=... --seed=0` with "
                 "the tutorial's defaults (15 epochs, batch 128, Adam 1e-3, "
                 f"50 latents), on a {machine['cores']}-core "
                 f"{machine['cpu']} (TensorFlow {machine['tensorflow']}; "
                 f"[`{MNIST_SWEEP}`](../{MNIST_SWEEP})):"), "",
           "| λ | information content (bits/digit) | real string (bits/digit) "
           "| distortion (mean abs. error, 0–1) |",
           "|---|---|---|---|"]
  for p in sweep["points"]:
    lines.append(f"| {p['lmbda']:g} | {p['information_bits']:.2f} | "
                 f"{p['string_bits']:.2f} | {p['distortion']:.4f} |")
  return "\n".join(lines)


@block("mnist-sweep-reading")
def _mnist_sweep_reading(root):
  points = _json(root, MNIST_SWEEP)["points"]
  extra = [p["string_bits"] - p["information_bits"] for p in points]
  _require(all(0 < e < 8 for e in extra),
           "real strings are longer than their information content, by "
           "less than a byte")
  return _fill(
      f"Real strings are {_range(extra, 1)} bits longer than their "
      "information content: the range coder writes whole bytes and "
      "terminates each string, a fixed cost that matters for strings of a "
      "few bytes.")

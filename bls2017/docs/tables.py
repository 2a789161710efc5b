"""The Markdown tables of README.md and docs/*.md, rendered from results
files (the blocks of `bls2017.docs.blocks` call them). Each returns one
table's text, header rows included; numbers keep the digits the pages show.
"""

import numpy as np

from bls2017 import zoo
from bls2017.core import baselines, metrics

_BD_HEADER = ["BD-rate, PSNR | BD-PSNR | BD-rate, MS-SSIM (dB) | BD-MS-SSIM |",
              "|---|---|---|---|"]


def _bd_cells(figures):
  """A table row's four BD figures, each with its curve overlap."""
  def cell(key, unit):
    value = figures[key]
    sign = "+" if value >= 0 else "\u2212"
    digits = 1 if unit == "%" else 2
    return (f"{sign}{abs(value):.{digits}f} {unit} "
            f"({100 * figures[key + '_overlap']:.0f} %)")
  return (f"{cell('bd_rate_psnr', '%')} | {cell('bd_psnr', 'dB')} | "
          f"{cell('bd_rate_ms_ssim_db', '%')} | "
          f"{cell('bd_ms_ssim_db', 'dB')} |")


def bd_table(method, results, names):
  """Markdown table of `method`'s BD figures against several anchors.

  results: {anchor: the bd.json `run`/`merge_results` wrote against it};
  names: {anchor: label}. Each figure carries its curve overlap.
  """
  lines = ["| anchor | " + _BD_HEADER[0], "|---" + _BD_HEADER[1]]
  for anchor, label in names.items():
    lines.append(f"| {label} | {_bd_cells(results[anchor][method])}")
  return "\n".join(lines)


def bd_methods_table(bd, names):
  """Markdown table of several methods' BD figures against the one anchor
  of `bd` (a bd.json); names: {method: label}, in row order."""
  lines = [f"| against {bd['anchor']} | " + _BD_HEADER[0],
           "|---" + _BD_HEADER[1]]
  for method, label in names.items():
    lines.append(f"| {label} | {_bd_cells(bd[method])}")
  return "\n".join(lines)


def rate_matched_table(model, per_image, matched):
  """Markdown table of `model` beside each classical codec rate-matched to
  it, image by image (means over images): rows of per_image.csv and
  rate_matched.csv as `run` writes them (strings, as csv reads them)."""
  def row(label, records):
    mean = {key: float(np.mean([float(r[key]) for r in records]))
            for key in ("bpp", "psnr", "ms_ssim")}
    return (f"| {label} | {mean['bpp']:.3f} | {mean['psnr']:.2f} | "
            f"{mean['ms_ssim']:.4f} | {metrics.ms_ssim_db(mean['ms_ssim']):.2f} |")
  lines = ["| codec | bpp | PSNR (dB) | MS-SSIM | MS-SSIM (dB) |",
           "|---|---|---|---|---|",
           row(model, [r for r in per_image if r.get("model") == model])]
  labels = {"jpeg": f"JPEG, each image at the largest size ≤ {model}'s"}
  for method in dict.fromkeys(r["method"] for r in matched):
    label = labels.get(method, f"{baselines.DESCRIPTIONS[method]}, same "
                       "matching")
    lines.append(row(label, [r for r in matched if r["model"] == model and
                             r["method"] == method]))
  return "\n".join(lines)


def curves_table(merged, labels):
  """Markdown table of several systems' rate points, one row a point.

  merged: `read_results` of their results files; labels: {method: (system
  label, [one setting label a point, in the file's order])}. SSIM has a
  column when every point has it (older results files lack it).
  """
  points = []
  for method, (system, settings) in labels.items():
    summaries = merged[method][1]
    if len(settings) != len(summaries):
      raise ValueError(f"{method}: {len(summaries)} points, "
                       f"{len(settings)} setting labels.")
    points.extend((system, setting, summary)
                  for setting, summary in zip(settings, summaries))
  with_ssim = all("ssim" in summary for _, _, summary in points)
  lines = ["| system | setting | bpp | PSNR (dB) | " +
           ("SSIM | " if with_ssim else "") +
           "MS-SSIM (dB) | encode s | decode s |",
           "|---|---|---|---|---|---|---|" + ("---|" if with_ssim else "")]
  for system, setting, s in points:
    ssim = f"{s['ssim']:.4f} | " if with_ssim else ""
    lines.append(
        f"| {system} | {setting} | {s['bpp']:.3f} | {s['psnr']:.2f} | "
        f"{ssim}{s['ms_ssim']:.4f} ({s['ms_ssim_db']:.2f}) | "
        f"{s['encoding_time']:.3f} | {s['decoding_time']:.3f} |")
  return "\n".join(lines)


def reference_gap_table(settings, points, reference, label):
  """Each point's PSNR against a reference curve's at the same rate.

  settings: a label per point; points and reference: {"bpp": [...],
  "psnr-rgb": [...]} (CompressAI's results layout); label: the reference's
  name in the header. The reference's PSNR is interpolated linearly in
  log(bpp) between its points, and not beyond them ("—").
  """
  log_bpp = np.log(reference["bpp"])
  order = np.argsort(log_bpp)
  lines = [f"| model | bpp | PSNR (dB) | {label} at that bpp (dB) | "
           "difference (dB) |", "|---|---|---|---|---|"]
  for setting, bpp, psnr in zip(settings, points["bpp"], points["psnr-rgb"],
                                strict=True):
    x = np.log(bpp)
    if log_bpp.min() <= x <= log_bpp.max():
      theirs = float(np.interp(x, log_bpp[order],
                               np.asarray(reference["psnr-rgb"])[order]))
      cells = f"{theirs:.2f} | {psnr - theirs:+.2f}"
    else:
      cells = "— | —"
    lines.append(f"| {setting} | {bpp:.3f} | {psnr:.2f} | {cells} |")
  return "\n".join(lines)


def training_table(records):
  """Markdown table of training.json's records: each model's own steps,
  the model it was warm-started from, its total steps and hours."""
  lines = ["| model | warm start from | steps | total steps | hours |",
           "|---|---|---|---|---|"]
  for r in records:
    source = r.get("warm_start", {}).get("model", "random weights")
    hours = r["seconds_this_run"] / 3600
    lines.append(f"| {r['model']} | {source} | {r['steps']:,} | "
                 f"{r.get('total_steps', r['steps']):,} | {hours:.2f} |")
  return "\n".join(lines)


def ablation_table(results, labels, figures):
  """Markdown table of `ablation_figures` results: the first model's means,
  then each other model's differences with their 95 % intervals.

  labels: {model: row label}; figures: {figure: (column title, digits)}.
  """
  lines = ["| model | " + " | ".join(t for t, _ in figures.values()) + " |",
           "|---|" + "---|" * len(figures)]
  for name, label in labels.items():
    cells = []
    for key, (_, digits) in figures.items():
      if "vs_first" not in results[name]:
        cells.append(f"{results[name][key]:.{digits}f}")
        continue
      d = results[name]["vs_first"][key]
      low, high = d["ci95"]
      cells.append(f"{d['mean']:+.{digits}f} [{low:+.{digits}f}, "
                   f"{high:+.{digits}f}]")
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def zoo_table(catalog):
  """The shipped models' validation figures, from the catalog
  (`zoo.catalog()`; `bls2017 models --markdown` prints it)."""
  rows = ["| model | | λ | filters | GDN | steps | hours | bpp | "
          "over info. content | PSNR (dB) | MS-SSIM | MS-SSIM (dB) |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for name, entry in catalog.items():
    training, figures = entry["training"], entry["validation"]
    steps = zoo.total_steps(entry)
    overhead = figures["bpp"] / figures["estimated_bpp"] - 1
    rows.append(
        f"| {name} | {'RGB' if entry['channels'] == 3 else 'gray'} | "
        f"{entry['lambda']:g} | {entry['num_filters']} | {zoo.gdn(entry)} | "
        f"{steps:,} | {training['wall_time_hours']:.2f} "
        f"| {figures['bpp']:.3f} | {100 * overhead:.2f} % | "
        f"{figures['psnr']:.2f} | {figures['ms_ssim']:.4f} | "
        f"{figures['ms_ssim_db']:.2f} |")
  return "\n".join(rows)


def replaced_table(catalog, replaced):
  """Each shipped model that replaced earlier ones under its name, after
  them (`Catalog.replaced()`): how each was made and what it measured on
  the validation set."""
  rows = ["| model | | filters | GDN | steps | hours | bpp | PSNR (dB) | "
          "MS-SSIM |", "|---|---|---|---|---|---|---|---|---|"]
  for name, entry in catalog.items():
    chain = [("now", entry)]
    by_successor = {r["replaced_by"]: r for r in replaced.values()
                    if r["name"] == name}
    while chain[0][1]["fingerprint"] in by_successor:
      record = by_successor[chain[0][1]["fingerprint"]]
      revision = record.get("revision")
      chain.insert(0, (f"until {revision[:7]}" if revision else "before",
                       record["entry"]))
    for label, shipped in chain if len(chain) > 1 else ():
      training, figures = shipped["training"], shipped["validation"]
      steps = zoo.total_steps(shipped)
      rows.append(
          f"| {name} | {label} | {shipped['num_filters']} | "
          f"{zoo.gdn(shipped)} | {steps:,} | "
          f"{training['wall_time_hours']:.2f} | {figures['bpp']:.3f} | "
          f"{figures['psnr']:.2f} | {figures['ms_ssim']:.4f} |")
  return "\n".join(rows)


def compaction_table(result):
  """The README's table of a compaction result (the JSON `main` writes)."""
  lines = ["| model | stored as | file (MiB) | bpp | PSNR (dB) | "
           "int8, taps: file (MiB) | PSNR change (dB) | bpp change | "
           "int8, RDFT: file (MiB) | PSNR change (dB) | bpp change |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
  for row in result["models"]:
    shipped = row["shipped"]
    cells = [row["model"], shipped["format"], f"{shipped['file_mib']:.2f}",
             f"{shipped['bpp']:.3f}", f"{shipped['psnr']:.2f}"]
    for form in ("int8", "int8_rdft"):
      cells += [f"{row[form]['file_mib']:.2f}",
                f"{row[form]['psnr_change_db']:+.4f}",
                f"{row[form]['bpp_change_percent']:+.3f} %"]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)

TRAINING_SPEED_ROWS = (
    ("training step, kernels by irfft2d (the trainer before)",
     ("train step, fixed batch, kernels by irfft2d",)),
    ("training step, kernels by one matrix product (the trainers now)",
     ("train step, fixed batch, kernels by matrix product",)),
    ("the six kernels, forward and backward: irfft2d / matrix product",
     ("the six kernels by irfft2d (fwd+bwd)",
      "the six kernels by matrix product (fwd+bwd)")),
    ("g_a + g_s forward and backward (convolutions with GDN)",
     ("g_a + g_s with GDN (fwd+bwd)",)),
    ("of which the four GDN/IGDN layers", ("GDN/IGDN layers alone (fwd+bwd)",)),
    ("the prior's rate, forward and backward", ("prior rate (fwd+bwd)",)),
    ("input alone: PNG decode + crop per batch / cached crop",
     ("input only: plain (decode PNG per patch)",
      "input only: decoded once, prefetched")),
    ("the step compiled with XLA (`jit_compile`)",
     ("train step, fixed batch, XLA",)),
    ("g_a + g_s, convolutions in float32 / in mixed bfloat16",
     ("g_a + g_s, convolutions in float32 (fwd+bwd)",
      "g_a + g_s, convolutions in mixed_bfloat16 (fwd+bwd)")),
)


def training_speed_table(results):
  """Markdown table of benchmark results side by side: seconds of each
  TRAINING_SPEED_ROWS row, and the step's speed-up from the matrix product.

  results: [benchmark JSON], one column each (titled by patch size).
  """
  columns = [{row["what"]: row.get("seconds") for row in r["rows"]}
             for r in results]
  title = " | ".join(f"8 × {r['config']['patchsize']}², "
                     f"{r['config']['num_filters']} filters"
                     for r in results)
  lines = [f"| seconds | {title} |", "|---" * (len(results) + 1) + "|"]
  for label, names in TRAINING_SPEED_ROWS:
    cells = [" / ".join(f"{c[n]:.3f}" for n in names) for c in columns]
    lines.append(f"| {label} | {' | '.join(cells)} |")
  speedups = [c[TRAINING_SPEED_ROWS[0][1][0]] / c[TRAINING_SPEED_ROWS[1][1][0]]
              for c in columns]
  lines.append("| training step speed-up | " + " | ".join(
      f"{s:.2f}×" for s in speedups) + " |")
  return "\n".join(lines)


def gdn_comparison_table(comparison):
  """The README's table of `campaign compare` on the two GDN forms."""
  results = comparison["models"]
  labels = {name: f"{figures['gdn']} ({figures['steps']:,} steps)"
            for name, figures in results.items()}
  return ablation_table(results, labels, {
      "bpp": ("bpp", 3), "psnr": ("PSNR dB", 2), "ms_ssim": ("MS-SSIM", 4),
      "loss": ("R + λ·D", 3)})

# The README's table of the ADMM ablation: its columns and digits.
CAE_ADMM_FIGURES = {"bpp": ("bpp", 3), "psnr": ("PSNR (dB)", 2),
                 "ssim": ("SSIM", 4), "ms_ssim": ("MS-SSIM", 4),
                 "zero_fraction": ("zero latents", 3)}

# The entropy-model table: the first model's means, the others' differences.
CW_FIGURES = {
    "bpp": ("bpp (file)", 3), "psnr": ("PSNR (dB)", 2),
    "kept_fraction": ("codes kept", 3),
    "context_bpp": ("context model bpp", 3),
    "factorized_bpp": ("factorized bpp", 3),
    "factorized_file_bpp": ("factorized file bpp", 3)}

# The training-mechanisms table (transforms, two-stage mask): quality too.
CW_MECHANISM_FIGURES = {
    "bpp": ("bpp (file)", 3), "psnr": ("PSNR (dB)", 2),
    "ssim": ("SSIM", 4), "ms_ssim": ("MS-SSIM", 4),
    "kept_fraction": ("codes kept", 3),
    "context_bpp": ("context model bpp", 3)}

# Coding the importance map (map_model): rates, the map's share, decoding.
CW_MAP_FIGURES = {
    "bpp": ("bpp (file)", 4), "psnr": ("PSNR (dB)", 2),
    "map_bpp": ("map bpp (as coded)", 4),
    "map_factorized_bpp": ("map bpp (fitted tables)", 4),
    "context_bpp": ("information content bpp", 4),
    "slanted_decode_s": ("planes: decode s", 3),
    "sequential_decode_s": ("code by code: decode s", 3)}

# The decoder table: each model's means, one row per model.
CW_DECODER_FIGURES = {
    "kept_codes": ("codes coded", "{:,.0f}"),
    "bpp": ("planes: file bpp", "{:.3f}"),
    "slanted_encode_s": ("encode s", "{:.3f}"),
    "slanted_decode_s": ("decode s", "{:.3f}"),
    "sequential_file_bpp": ("code by code: file bpp", "{:.3f}"),
    "sequential_encode_s": ("encode s", "{:.3f}"),
    "sequential_decode_s": ("decode s", "{:.3f}")}


def cw_decoder_table(results, labels):
  """Markdown table of the two decoders' sizes and seconds (per-image
  means) for each model of `run`'s results."""
  lines = ["| model | " + " | ".join(
      title for title, _ in CW_DECODER_FIGURES.values()) + " |",
           "|---|" + "---|" * len(CW_DECODER_FIGURES)]
  for name, label in labels.items():
    lines.append(f"| {label} | " + " | ".join(
        form.format(results[name][key])
        for key, (_, form) in CW_DECODER_FIGURES.items()) + " |")
  return "\n".join(lines)

CW_DECODER_WAYS = {"windows": "planes, windows", "volume": "planes, whole volume",
        "sequential": "code by code"}


def cw_decoders_benchmark_table(results):
  """Markdown table of `main`'s results: seconds of each way by fraction
  of codes kept."""
  lines = ["| codes kept | codes | " + " | ".join(
      f"{title}: encode s | decode s" for title in CW_DECODER_WAYS.values()) + " |",
           "|---|---|" + "---|---|" * len(CW_DECODER_WAYS)]
  for keep, row in results["by_kept_fraction"].items():
    cells = [f"{100 * float(keep):.0f} %", f"{row['kept_codes']:,}"]
    for way in CW_DECODER_WAYS:
      cells += [f"{row[way]['encode_s']:.3f}", f"{row[way]['decode_s']:.3f}"]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def campaign_table(plan, content):
  """Each planned model's steps, hours and latest validation figures (the
  progress file's), in the plan's order."""
  lines = ["| model | λ | filters | steps | hours | validated at | bpp | "
           "PSNR (dB) | MS-SSIM |", "|---|---|---|---|---|---|---|---|---|"]
  for model in plan.models:
    entry = content.get("models", {}).get(model.name, {})
    last = (entry.get("validation") or [None])[-1]
    figures = ("| — | | | " if last is None else
               f"| {last['step']:,} | {last['bpp']:.3f} | "
               f"{last['psnr']:.2f} | {last['ms_ssim']:.4f} ")
    lines.append(f"| {model.name} | {model.lmbda:g} | {model.filters} | "
                 f"{entry.get('steps', 0):,} / {model.steps:,} | "
                 f"{entry.get('hours', 0):.2f} {figures}|")
  return "\n".join(lines)

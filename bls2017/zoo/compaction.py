r"""What storing the zoo's weights as int8 costs, on real bitstreams.

    python -m bls2017.zoo.compaction --images=DIR [--models=NAME,...] \
        [--output=compaction.json]
    python -m bls2017.zoo.compaction --table=compaction.json  # README table

For every shipped model (or --models) it writes the model again with its
weights stored as int8 with per-channel scales (`bls2017.core.stored_weights`;
range-coding tables rebuilt from the expanded weights), codes every image
with both files, and reports the file sizes, the mean bpp, PSNR and MS-SSIM
of each, and their differences.
"""

import json
import os
import tempfile

from absl import app, flags, logging

from bls2017 import zoo
from bls2017.core import commands, images, lazy, timing

# Loaded at first use: --help and usage errors answer before TensorFlow.
codec = lazy.module("bls2017.core.codec")
evaluation = lazy.module("bls2017.core.evaluation")
model_file = lazy.module("bls2017.core.model_file")


def measure(name, paths, directory):
  """Figures of the shipped file and of its int8 twin on `paths`."""
  shipped = zoo.CATALOG.path(name)
  compact = os.path.join(directory, name + ".int8.npz")
  loaded = model_file.load(shipped)
  model_file.save(loaded.model, compact, dtype="int8",
                  metadata=loaded.metadata)
  row = {"model": name}
  for label, path in (("float16", shipped), ("int8", compact)):
    summary = evaluation.summarize(evaluation.evaluate_codec(
        codec.load(path), paths, progress=False))
    row[label] = {"file_mib": round(os.path.getsize(path) / 2 ** 20, 3),
                  **{k: summary[k] for k in ("bpp", "psnr", "ms_ssim")}}
  row["psnr_change_db"] = row["int8"]["psnr"] - row["float16"]["psnr"]
  row["bpp_change_percent"] = 100 * (
      row["int8"]["bpp"] / row["float16"]["bpp"] - 1)
  return row


def define_flags():
  """The command's flags; defined when it runs (see jax_twin.pack)."""
  flags.DEFINE_string("images", None, "Directory or glob of images.")
  flags.DEFINE_string("table", None, "Print the README table of this "
                      "result file instead of measuring.")
  flags.DEFINE_list("models", None, "Zoo models. Default: all of them.")
  flags.DEFINE_string("output", "compaction.json", "JSON to write.")


def main(argv):
  del argv
  if flags.FLAGS.table:
    from bls2017.docs import tables  # pylint: disable=import-outside-toplevel
    with open(flags.FLAGS.table) as f:
      print(tables.compaction_table(json.load(f)))
    return
  if not flags.FLAGS.images:
    raise app.UsageError("--images (or --table) is required.")
  logging.set_verbosity(logging.WARNING)
  paths = evaluation.image_paths(flags.FLAGS.images)
  rows = []
  with tempfile.TemporaryDirectory() as directory:
    for name in flags.FLAGS.models or list(zoo.catalog()):
      rows.append(measure(name, paths, directory))
      print(json.dumps(rows[-1]), flush=True)
  result = {
      "images": len(paths),
      "zoo_mib": {label: round(sum(r[label]["file_mib"] for r in rows), 3)
                  for label in ("float16", "int8")},
      "worst_psnr_change_db": min(r["psnr_change_db"] for r in rows),
      "worst_bpp_change_percent": max(r["bpp_change_percent"]
                                      for r in rows),
      "models": rows, "machine": timing.machine()}
  with images.atomic_output(flags.FLAGS.output) as f:
    f.write((json.dumps(result, indent=2) + "\n").encode())
  print(f"Wrote {flags.FLAGS.output}: zoo {result['zoo_mib']} MiB; worst "
        f"{result['worst_psnr_change_db']:+.4f} dB, "
        f"{result['worst_bpp_change_percent']:+.3f} % bpp")


if __name__ == "__main__":
  define_flags()
  app.define_help_flags()
  commands.run_command(main, app.parse_flags_with_usage)

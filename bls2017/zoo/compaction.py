r"""What storing the zoo's weights as int8 costs, on real bitstreams.

    python -m bls2017.zoo.compaction --images=DIR [--models=NAME|FILE,...] \
        [--output=compaction.json]
    python -m bls2017.zoo.compaction --table=compaction.json  # README table

For every shipped model (or --models: shipped names or model files) it
writes the model again in each int8 form of `bls2017.core.stored_weights`
(int8: kernels as spatial taps; int8_rdft: as their RDFT coefficients; one
scale per channel pair, range-coding tables rebuilt from the expanded
weights), codes every image with each file, and reports the original's SHA-256 (a model
file given by path may change later), the file sizes, the stored format
of the original, the mean bpp, PSNR and MS-SSIM of each, and their
differences.
"""

import hashlib
import json
import os
import tempfile

import numpy as np
from absl import app, flags, logging

from bls2017 import zoo
from bls2017.core import catalog, commands, images, lazy, timing

# Loaded at first use: --help and usage errors answer before TensorFlow.
codec = lazy.module("bls2017.core.codec")
evaluation = lazy.module("bls2017.core.evaluation")
model_file = lazy.module("bls2017.core.model_file")


FORMS = ("int8", "int8_rdft")  # The int8 forms measured (stored_weights).


def stored_format(path):
  """How a model file stores its weights: float16, float32, int8 (kernels
  as taps) or int8_rdft (kernels as RDFT coefficients)."""
  with np.load(path, allow_pickle=False) as archive:
    names = archive.files
    if any(n.startswith("spatial_") for n in names):
      return "int8"
    if any(n.startswith("scale_") for n in names):
      return "int8_rdft"
    return str(archive["weight_0"].dtype)


def measure(name, paths, directory):
  """Figures of a model file (a shipped name or a path) and of its twins
  in each int8 form on `paths`."""
  shipped = catalog.resolve(name)
  files = {"shipped": shipped}
  for form in FORMS:
    files[form] = os.path.join(directory,
                               f"{os.path.basename(shipped)}.{form}.npz")
    # Loaded afresh for each form: saving sets the live model to the
    # weights as stored.
    loaded = model_file.load(shipped)
    model_file.save(loaded.model, files[form], dtype=form,
                    metadata=loaded.metadata)
  with open(shipped, "rb") as f:
    row = {"model": name, "sha256": hashlib.sha256(f.read()).hexdigest()}
  for label, path in files.items():
    summary = evaluation.summarize(evaluation.evaluate_codec(
        codec.load(path), paths, progress=False))
    row[label] = {"file_mib": round(os.path.getsize(path) / 2 ** 20, 3),
                  "format": stored_format(path),
                  **{k: summary[k] for k in ("bpp", "psnr", "ms_ssim")}}
  for form in FORMS:
    row[form]["psnr_change_db"] = row[form]["psnr"] - row["shipped"]["psnr"]
    row[form]["bpp_change_percent"] = 100 * (
        row[form]["bpp"] / row["shipped"]["bpp"] - 1)
  return row


def define_flags():
  """The command's flags; defined when it runs (see jax_twin.pack)."""
  flags.DEFINE_string("images", None, "Directory or glob of images.")
  flags.DEFINE_string("table", None, "Print the README table of this "
                      "result file instead of measuring.")
  flags.DEFINE_list("models", None, "Shipped models or model files. "
                    "Default: every shipped model.")
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
                  for label in ("shipped", *FORMS)},
      "worst_psnr_change_db": {form: min(r[form]["psnr_change_db"]
                                         for r in rows) for form in FORMS},
      "models": rows, "machine": timing.machine()}
  images.write_json(flags.FLAGS.output, result)
  print(f"Wrote {flags.FLAGS.output}: {result['zoo_mib']} MiB; worst "
        f"{result['worst_psnr_change_db']} dB")


if __name__ == "__main__":
  define_flags()
  app.define_help_flags()
  commands.run_command(main, app.parse_flags_with_usage)

"""Adds a trained model file to the zoo, with its record and figures.

    python -m bls2017.zoo NAME MODEL_PATH --validation_images=DIR \
        --hardware="2 CPU cores" --wall_time_hours=1.9

Writes MODEL_PATH's weights (float16) and freshly built range-coding tables
to bls2017/zoo/NAME.npz, measures it on the validation
images (real bitstreams) and writes its entry in models.json: channels,
lambda, filters, fingerprint, the training command and step count stored in
the model file, the hardware and wall time given, and the figures. Where
another model was shipped under NAME, its entry moves to replaced.json
with the last revision that shipped it (`Catalog.replaced`).
"""

import json

from absl.flags import argparse_flags

from bls2017 import zoo
from bls2017.core import commands, images, lazy, stored_weights, timing

# Loaded at first use: --help and usage errors answer before TensorFlow.
evaluation = lazy.module("bls2017.core.evaluation")
model_file = lazy.module("bls2017.core.model_file")
paper_codec = lazy.module("bls2017.paper.codec")


def parse_args(argv):
  parser = argparse_flags.ArgumentParser(
      description=__doc__.split("\n")[0])
  parser.add_argument("name", help="Zoo name, e.g. bls2017-mse-4.")
  parser.add_argument("model_path", help="Model file written by `train`.")
  parser.add_argument("--validation_images", required=True,
                      help="Directory or glob of validation images.")
  parser.add_argument("--validation_name", default=zoo.VALIDATION_SET,
                      help="How the README and `models` name that set.")
  parser.add_argument("--hardware", required=True,
                      help="What it was trained on.")
  parser.add_argument("--wall_time_hours", type=float, required=True,
                      help="Total training wall time.")
  parser.add_argument("--total_steps", type=int, default=None,
                      help="Steps including the models it was warm-started "
                      "from. Default: as recorded in the model file.")
  parser.add_argument("--note", default=None,
                      help="Anything else a reproducer must know.")
  parser.add_argument("--weights_dtype", default="float16",
                      choices=stored_weights.FORMATS,
                      help="How the shipped file stores the weights "
                      "(int8: with per-channel scales, half the size).")
  return parser.parse_args(argv[1:])


def main(args):
  entry = ship(args.name, args.model_path, args.validation_images,
               args.hardware, args.wall_time_hours,
               validation_name=args.validation_name,
               total_steps=args.total_steps, note=args.note,
               weights_dtype=args.weights_dtype)
  print(json.dumps(entry, indent=2))


def ship(name, model_path, validation_images, hardware, wall_time_hours,
         validation_name=zoo.VALIDATION_SET, total_steps=None, note=None,
         weights_dtype="float16", record=None):
  """Writes model_path as zoo model `name` and its models.json entry (see
  the module's docstring); returns the entry. record: more of the
  training to record (e.g. the campaign's runs)."""
  # Written afresh rather than copied, so the shipped tables are built by
  # this version's BLS2017Model.coding_tables.
  source = model_file.load(model_path)
  target = zoo.CATALOG.path(name)
  model_file.save(source.model, target, dtype=weights_dtype,
                  metadata=source.metadata)
  loaded = model_file.load(target)
  model_codec = paper_codec.Codec(loaded)
  records = evaluation.evaluate_codec(
      model_codec, evaluation.image_paths(validation_images))
  summary = evaluation.summarize(records)
  # A fixed image every checkout has, to test the shipped file against.
  sample = images.read(images.sample_photo(), model_codec.channels)
  catalog = zoo.catalog()
  if name in catalog and (catalog[name]["fingerprint"] !=
                          loaded.fingerprint.hex()):
    _keep_replaced(name, catalog[name], loaded.fingerprint.hex())
  model = loaded.model
  catalog[name] = {
      "channels": model.channels, "lambda": model.lmbda,
      "num_filters": model.num_filters, "gdn": model.gdn,
      "fingerprint": loaded.fingerprint.hex(),
      "training": dict(loaded.metadata, hardware=hardware,
                       total_steps=total_steps or loaded.metadata.get(
                           "total_steps", loaded.metadata.get("steps")),
                       wall_time_hours=wall_time_hours,
                       **({"note": note} if note else {}), **(record or {})),
      "sample_photo_bytes": len(model_codec.compress(sample)),
      "validation": {
          "images": validation_name,
          **{k: round(summary[k], 5) for k in
             ("bpp", "estimated_bpp", "psnr", "ms_ssim", "ms_ssim_db",
              "encoding_time", "decoding_time")}},
  }
  ordered = dict(sorted(catalog.items(), key=lambda item: (
      -item[1]["channels"], item[1]["validation"]["bpp"])))
  images.write_json(zoo.CATALOG.index_path, ordered)
  return catalog[name]


def _keep_replaced(name, entry, fingerprint):
  """Records the model `name` shipped until now in replaced.json, so that
  its bitstreams are refused by name and revision, and its figures stay
  beside its successor's."""
  replaced = zoo.CATALOG.replaced()
  revision = timing.commit()
  replaced[entry["fingerprint"]] = {
      "name": name, "revision": revision and revision.rstrip("+"),
      "replaced_by": fingerprint, "entry": entry}
  images.write_json(zoo.CATALOG.replaced_path, replaced)


if __name__ == "__main__":
  commands.run_command(main, parse_args)

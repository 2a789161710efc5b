"""Pretrained models shipped with the package.

`models.json` lists each model: channels, lambda, filters, the command that
trained it and its measured validation figures. The weights and range-coding
tables are in `<name>.npz` beside it (see `bls2017.core.model_file`).
"""

import json
import os


ZOO_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT = "bls2017-mse-4"
VALIDATION_SET = "CBSD68 (24 colour BSD68 images, 481x321)"


def catalog():
  """{name: entry} for every shipped model: RGB, then grayscale, each in
  increasing order of rate."""
  with open(os.path.join(ZOO_DIR, "models.json")) as f:
    return json.load(f)


def ladder(channels):
  """Names of the shipped models with `channels`, in increasing rate."""
  entries = [(entry["validation"]["bpp"], name)
             for name, entry in catalog().items()
             if entry["channels"] == channels]
  return [name for _, name in sorted(entries)]


def resolve(name_or_path):
  """Path of a model file given a zoo name or a path (None: the default)."""
  name_or_path = name_or_path or DEFAULT
  if os.path.exists(name_or_path):
    return name_or_path
  if name_or_path in catalog():
    return os.path.join(ZOO_DIR, name_or_path + ".npz")
  # Imported here: the catalog itself needs no TensorFlow.
  from bls2017.core import model_file  # pylint: disable=import-outside-toplevel
  raise model_file.ModelFileError(
      f"{name_or_path}: neither a model file nor a shipped model "
      f"(shipped: {', '.join(catalog())}).")


def find(fingerprint):
  """Name of the shipped model with this 4-byte fingerprint, or None."""
  for name, entry in catalog().items():
    if entry.get("fingerprint") == fingerprint.hex():
      return name
  return None

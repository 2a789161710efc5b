"""Pretrained models shipped with the package: the paper's catalog.

`models.json` lists each model: channels, lambda, filters, the command that
trained it and its measured validation figures. The weights and range-coding
tables are in `<name>.npz` beside it (see `bls2017.core.model_file`). The
paper's system declares this catalog (`bls2017.paper.SYSTEM`), and every
lookup by name goes through `bls2017.core.catalog`.
"""

import os

from bls2017.core import catalog as catalog_lib

DEFAULT = "bls2017-mse-4"
VALIDATION_SET = "CBSD68 (24 colour BSD68 images, 481x321)"

# This folder; a test points CATALOG elsewhere to ship into a folder of
# its own.
CATALOG = catalog_lib.Catalog(os.path.dirname(os.path.abspath(__file__)),
                              default=DEFAULT)


def catalog():
  """{name: entry} for every model shipped here: RGB, then grayscale, each
  in increasing order of rate."""
  return CATALOG.entries()


def ladder(channels):
  """Names of the models shipped here with `channels`, in increasing rate."""
  return CATALOG.ladder(channels)


def total_steps(entry):
  """Steps behind a catalog entry's model, its warm starts' included
  (entries that record no total trained from random weights)."""
  training = entry["training"]
  return training.get("total_steps") or training["steps"]


def gdn(entry):
  """The GDN form of a catalog entry: "paper" or "simplified" (entries
  shipped before the option name none and are simplified, as their model
  files are)."""
  return entry.get("gdn", "simplified")

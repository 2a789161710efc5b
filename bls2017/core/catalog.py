"""Shipped models: the catalogs that registered systems declare.

    System.catalog ("module:attribute") --> Catalog(folder)
        folder/models.json   {name: entry}: channels, lambda, fingerprint,
                             training record, validation figures
        folder/NAME.npz      the model file of NAME
        folder/replaced.json {fingerprint: record} of the models shipped
                             once under a name and replaced since

    name or path --resolve--> a model file path
    bitstream header fingerprint --find--> the shipped model that wrote it
                                 --find_replaced--> or the one replaced since

The core knows no catalog by name: each system's package declares its own
(the paper's is `bls2017.zoo`), and the lookups here read the catalogs of
the registered systems. Each models.json is read once per process (again
only if the file changes). Plain Python: no TensorFlow.
"""

import json
import os

from bls2017.core import model_file, systems


class UnknownModelError(model_file.ModelFileError):
  """A name is neither a model file nor a shipped model."""


class Catalog:
  """The shipped models in one folder (models.json and NAME.npz).

  default: the model that commands use when given none, if this catalog
  provides the project's default (at most one registered catalog may).
  """

  def __init__(self, folder, default=None):
    self.folder = folder
    self.default = default
    self._read = (None, {})  # (models.json's stat key, its entries)

  @property
  def index_path(self):
    return os.path.join(self.folder, "models.json")

  def entries(self):
    """{name: entry}, in the file's order (each ladder by rate); {} when
    the folder has no models.json yet. A copy: callers may change it."""
    try:
      stat = os.stat(self.index_path)
    except FileNotFoundError:
      return {}
    key = (stat.st_mtime_ns, stat.st_size)
    if self._read[0] != key:
      with open(self.index_path) as f:
        self._read = (key, json.load(f))
    return dict(self._read[1])

  def path(self, name):
    return os.path.join(self.folder, name + ".npz")

  def ladder(self, channels):
    """Names of the models with `channels`, in increasing validation rate."""
    ranked = sorted((entry["validation"]["bpp"], name)
                    for name, entry in self.entries().items()
                    if entry["channels"] == channels)
    return [name for _, name in ranked]

  def find(self, fingerprint):
    """Name of the model with this 4-byte fingerprint, or None."""
    return next((name for name, entry in self.entries().items()
                 if entry.get("fingerprint") == fingerprint.hex()), None)

  @property
  def replaced_path(self):
    return os.path.join(self.folder, "replaced.json")

  def replaced(self):
    """{fingerprint hex: record} of the models this catalog once shipped
    and has replaced since under the same name: "name", "revision" (the
    last revision of this project that shipped it, or None), "replaced_by"
    (the new model's fingerprint) and "entry" (its models.json entry
    then). {} when the folder has no replaced.json."""
    try:
      with open(self.replaced_path) as f:
        return json.load(f)
    except FileNotFoundError:
      return {}


def catalogs():
  """The registered systems' catalogs, in registration order."""
  return [system.model_catalog() for system in systems.registered().values()
          if system.catalog]


def entries():
  """{name: entry} of every shipped model of every registered system."""
  merged = {}
  for catalog in catalogs():
    merged.update(catalog.entries())
  return merged


def default():
  """The name of the default model (declared by one registered catalog)."""
  names = [c.default for c in catalogs() if c.default]
  if len(names) != 1:
    raise UnknownModelError(
        "no default model: pass --model" if not names else
        f"several catalogs declare a default model ({', '.join(names)}).")
  return names[0]


def resolve(name_or_path):
  """Path of a model file given a path or a shipped model's name (None:
  the default model); UnknownModelError names the shipped ones."""
  name_or_path = name_or_path or default()
  if os.path.exists(name_or_path):
    return name_or_path
  for catalog in catalogs():
    if name_or_path in catalog.entries():
      return catalog.path(name_or_path)
  raise UnknownModelError(
      f"{name_or_path}: neither a model file nor a shipped model "
      f"(shipped: {', '.join(entries())}).")


def ladder(channels):
  """Shipped models with `channels` in increasing rate, the default
  model's catalog first."""
  for catalog in sorted(catalogs(), key=lambda c: not c.default):
    names = catalog.ladder(channels)
    if names:
      return names
  return []


def find(fingerprint):
  """Name of the shipped model with this 4-byte fingerprint, or None."""
  return next((name for name in (c.find(fingerprint) for c in catalogs())
               if name), None)


def find_replaced(fingerprint):
  """The record (`Catalog.replaced`) of a model once shipped with this
  4-byte fingerprint and replaced since, or None."""
  return next((record for record in (c.replaced().get(fingerprint.hex())
                                     for c in catalogs()) if record), None)

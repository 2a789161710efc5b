"""The coding systems the commands know, registered by the packages that
define them, so that the shared machinery never names them.

    model file --config["system"]--> System --open(path)--> its Codec
                                            --model_class()--> its Keras model
    bitstream  --magic bytes 0..1--> System.name   (in error messages)

A system declares itself with a `System` in its package (the paper's is
`bls2017.paper.SYSTEM`, CAE-ADMM's `cae_admm.SYSTEM`) and an entry point in
the installed package's "bls2017.systems" group, e.g. in setup.py:

    entry_points={"bls2017.systems": ["cae_admm = cae_admm:SYSTEM"]}

A fourth system needs only its own package and that line; code that is not
installed can call `register` instead. Plain Python: the declarations load
no TensorFlow, so `--help` and error messages stay quick.
"""

import dataclasses
import importlib
from importlib import metadata
from typing import Mapping, Optional

ENTRY_POINT_GROUP = "bls2017.systems"


class UnknownSystemError(ValueError):
  """No registered system has the requested name."""


@dataclasses.dataclass(frozen=True)
class System:
  """A coding system.

  name: as recorded in its model files' config (and its curves' method).
  magic: the 2 bytes its bitstreams start with (`bls2017.core.bitstream`).
  description: the method's description in evaluation results.
  opener: "module:function"; function(path) -> the codec of a model file.
  model: "module:Class", the Keras model its model files hold.
    Both imported on first use: declaring a system loads no TensorFlow.
  format_version: the version its bitstreams carry in header byte 2 (see
    `bls2017.core.bitstream`); raised when its payload changes, so that
    older files are refused instead of misread.
  past_versions: {version: the last revision of this project that wrote
    it}, named in the refusal of such a file (what to check out to
    decode it).
  catalog: "module:attribute" of its shipped models, a
    `bls2017.core.catalog.Catalog` (None: it ships none).
  unnamed_model_files: model files whose config names no system are this
    system's (the paper's files predate the record); at most one system.
  """
  name: str
  magic: bytes
  description: str
  opener: str
  model: str
  format_version: int = 1
  past_versions: Mapping[int, str] = dataclasses.field(
      default_factory=dict, hash=False)
  catalog: Optional[str] = None
  unnamed_model_files: bool = False

  def __post_init__(self):
    if len(self.magic) != 2:
      raise ValueError(f"magic must be 2 bytes, got {self.magic!r}.")

  def open(self, path):
    """The system's codec for the model file `path`."""
    return _named(self.opener)(path)

  def model_class(self):
    """The Keras model class of the system's model files."""
    return _named(self.model)

  def model_catalog(self):
    """The Catalog of its shipped models (plain Python), or None."""
    return self.catalog and _named(self.catalog)


def _named(target):
  module, name = target.split(":")
  return getattr(importlib.import_module(module), name)


_registered = {}
_discovered = False


def register(system):
  """Adds `system`; a second system with the same name or magic is refused
  unless it is the same declaration."""
  for other in _registered.values():
    if other != system and (other.name == system.name or
                            other.magic == system.magic):
      raise ValueError(f"system {system.name!r} ({system.magic!r}) clashes "
                       f"with {other.name!r} ({other.magic!r}).")
    if (other.name != system.name and other.unnamed_model_files and
        system.unnamed_model_files):
      raise ValueError(f"systems {other.name!r} and {system.name!r} both "
                       "claim the model files that name no system.")
  _registered[system.name] = system
  return system


def registered():
  """{name: System}: those registered and those the installed packages
  declare as entry points (read once)."""
  global _discovered
  if not _discovered:
    _discovered = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
      register(entry.load())
  return dict(_registered)


def by_name(name):
  """The system called `name`; UnknownSystemError names the known ones."""
  systems = registered()
  if name not in systems:
    raise UnknownSystemError(
        f"unknown system {name!r} (known: {', '.join(sorted(systems))}).")
  return systems[name]


def of_magic(magic):
  """The system whose bitstreams start with `magic`, or None."""
  return next((s for s in registered().values() if s.magic == magic), None)


def of_model_config(config):
  """The name of the system whose model file has this config: the one it
  records, else the system that claims unnamed files (None if none does)."""
  if "system" in config:
    return config["system"]
  return next((s.name for s in registered().values()
               if s.unnamed_model_files), None)


def name_of_magic(magic):
  """The name of the system whose bitstreams start with `magic`, or None."""
  system = of_magic(magic)
  return system and system.name

"""Systems register by name and magic; the core opens any registered one
and finds the shipped models of each through the catalog it declares."""

import dataclasses
import json
import sys

import pytest
import tensorflow as tf

import cae_admm
import content_weighted
from bls2017 import paper
from bls2017.core import bitstream, catalog, codec, model_file, systems
from bls2017.paper import codec as paper_codec
from bls2017.paper.model import BLS2017Model
from helpers.synthetic import synthetic_image

# A fourth system, declared the way a package outside bls2017 would.
TOY = systems.System(name="toy", magic=b"TY", description="a test system",
                     opener="test_systems:open_toy",
                     model="test_systems:ToyModel")


class ToyModel(BLS2017Model):
  system = TOY.name


class ToyCodec(paper_codec.Codec):
  system = TOY


def open_toy(path):
  # No model class given: the registry's (TOY.model).
  return ToyCodec(model_file.load(path))


def _save(model_class, path):
  tf.keras.utils.set_random_seed(0)
  model_file.save(model_class(lmbda=0.01, num_filters=8, channels=3), path)
  return path


def test_installed_packages_declare_their_systems():
  known = systems.registered()
  for package in (paper, cae_admm, content_weighted):
    assert known[package.SYSTEM.name] == package.SYSTEM
  assert len({s.magic for s in known.values()}) == len(known)


@pytest.mark.slow
def test_a_fourth_system_needs_no_change_to_the_core(tmp_path):
  systems.register(TOY)
  toy = codec.load(_save(ToyModel, str(tmp_path / "toy.npz")))
  paper = codec.load(_save(BLS2017Model, str(tmp_path / "paper.npz")))
  assert isinstance(toy, ToyCodec) and toy.method == "toy"
  assert toy.description == "a test system"
  x = synthetic_image(20, 30, 3)
  data = toy.compress(x)
  # Same weights, same tables: the same payload under its own magic.
  assert data[:2] == b"TY" and data[16:] == paper.compress(x)[16:]
  assert (toy.decompress(data) == paper.decompress(paper.compress(x))).all()
  with pytest.raises(bitstream.NotABitstreamError,
                     match=r"not a bls2017 bitstream \(written by toy\)"):
    paper.decompress(data)


def test_a_model_file_of_an_unknown_system_is_refused(tmp_path):
  class Stranger(BLS2017Model):
    system = "stranger"

  path = _save(Stranger, str(tmp_path / "stranger.npz"))
  with pytest.raises(model_file.ModelFileError,
                     match=r"unknown system 'stranger' \(known: .*bls2017"):
    codec.load(path)


def test_a_clashing_declaration_is_refused():
  with pytest.raises(ValueError, match="clashes with 'bls2017'"):
    systems.register(systems.System("copy", b"BL", "", "copy:open",
                                    "copy:Model"))
  with pytest.raises(ValueError, match="2 bytes"):
    systems.System("long", b"LONG", "", "long:open", "long:Model")


TOY_CATALOG = None  # Set by the test that declares the toy's shipped models.


def _toy_zoo(folder, monkeypatch, default=None):
  """Registers the toy system with a catalog of one model, toy-1, in
  `folder` for this test; returns that model file's path."""
  systems.registered()  # Discover the installed ones before adding.
  folder.mkdir()
  path = _save(ToyModel, str(folder / "toy-1.npz"))
  fingerprint = model_file.identity(path)[2]
  (folder / "models.json").write_text(json.dumps({"toy-1": {
      "channels": 3, "fingerprint": fingerprint.hex(),
      "validation": {"bpp": 0.5}}}))
  monkeypatch.setattr(sys.modules[__name__], "TOY_CATALOG",
                      catalog.Catalog(str(folder), default=default))
  toy = dataclasses.replace(TOY, catalog="test_systems:TOY_CATALOG")
  monkeypatch.setitem(systems._registered, toy.name, toy)  # pylint: disable=protected-access
  return path


def test_shipped_models_are_found_through_each_systems_catalog(
    tmp_path, monkeypatch):
  path = _toy_zoo(tmp_path / "toy_zoo", monkeypatch)
  assert catalog.resolve("toy-1") == path
  assert catalog.resolve("bls2017-mse-1").endswith("bls2017-mse-1.npz")
  assert catalog.find(model_file.identity(path)[2]) == "toy-1"
  assert {"toy-1", "bls2017-mse-4"} <= set(catalog.entries())
  # The default model's catalog comes first; the default is the paper's.
  assert catalog.ladder(3)[0] == "bls2017-mse-1"
  assert catalog.resolve(None) == catalog.resolve(catalog.default())
  assert catalog.default() == "bls2017-mse-4"
  with pytest.raises(model_file.ModelFileError,
                     match="neither a model file nor a shipped model "
                     r"\(shipped: bls2017-mse-1, .*toy-1\)"):
    catalog.resolve("toy-2")


def test_only_one_catalog_may_name_the_default_model(tmp_path, monkeypatch):
  _toy_zoo(tmp_path / "toy_zoo", monkeypatch, default="toy-1")
  with pytest.raises(catalog.UnknownModelError,
                     match=r"several catalogs declare a default model "
                     r"\(bls2017-mse-4, toy-1\)"):
    catalog.default()


def test_a_catalog_is_read_once_until_it_changes(tmp_path, monkeypatch):
  index = tmp_path / "models.json"
  index.write_text(json.dumps({"a": {"channels": 3,
                                     "validation": {"bpp": 1.0}}}))
  reads = []

  def counting_open(*args, **kwargs):
    reads.append(args[0])
    return open(*args, **kwargs)

  monkeypatch.setattr(catalog, "open", counting_open, raising=False)
  shipped = catalog.Catalog(str(tmp_path))
  shipped.entries()["b"] = {}  # A copy: the catalog does not change.
  assert shipped.ladder(3) == ["a"] and shipped.find(b"\0" * 4) is None
  assert list(shipped.entries()) == ["a"] and len(reads) == 1
  index.write_text(json.dumps({"c": {"channels": 1,
                                     "validation": {"bpp": 1.0}}}))
  assert shipped.ladder(1) == ["c"] and len(reads) == 2
  assert catalog.Catalog(str(tmp_path / "none")).entries() == {}


def test_one_system_owns_the_model_files_that_name_none():
  assert systems.of_model_config({}) == "bls2017"
  assert systems.of_model_config({"system": "cae_admm"}) == "cae_admm"
  with pytest.raises(ValueError, match="both claim the model files"):
    systems.register(systems.System("other", b"OT", "", "other:open",
                                    "other:Model", unnamed_model_files=True))

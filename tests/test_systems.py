"""Systems register by name and magic; the core opens any registered one."""

import pytest
import tensorflow as tf

import cae_admm
import content_weighted
from bls2017 import paper
from bls2017.core import bitstream, codec, model_file, systems
from bls2017.paper import codec as paper_codec
from bls2017.paper.model import BLS2017Model
from synthetic import synthetic_image

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

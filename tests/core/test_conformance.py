"""The conformance bitstreams (tests/conformance): every committed file
decodes to its recorded latents exactly and to its recorded image within
the promised tolerance; files are never rewritten while their format
version stands; a past version is refused by name."""

import hashlib
import json
import os
import shutil

import pytest

from bls2017 import conformance
from bls2017.core import bitstream
from helpers.commands import ROOT

DIRECTORY = os.path.join(ROOT, conformance.DIRECTORY)


@pytest.mark.slow
def test_every_conformance_file_decodes_as_recorded():
  with open(os.path.join(DIRECTORY, "manifest.json")) as f:
    manifest = json.load(f)
  from bls2017.core import catalog  # pylint: disable=import-outside-toplevel
  # A file for every shipped model and each related system.
  assert set(catalog.entries()) | {"cae_admm", "content_weighted"} <= set(
      manifest)
  assert conformance.check(DIRECTORY) == {}


def test_writing_keeps_every_file_whose_version_stands(tmp_path):
  copy = tmp_path / "conformance"
  shutil.copytree(DIRECTORY, copy)
  before = {p: open(os.path.join(copy, p), "rb").read()
            for p in os.listdir(copy) if p.endswith(".tfci")}
  assert conformance.write(str(copy), log=lambda *_: None) == []
  assert before == {p: open(os.path.join(copy, p), "rb").read()
                    for p in os.listdir(copy) if p.endswith(".tfci")}


def test_a_past_format_version_is_refused_by_name(tmp_path):
  copy = tmp_path / "conformance"
  shutil.copytree(DIRECTORY, copy)
  with open(copy / "manifest.json") as f:
    manifest = json.load(f)
  entry = manifest["bls2017-mse-1"]
  data = bytearray((copy / "bls2017-mse-1.tfci").read_bytes())
  data[2] = entry["format_version"] + 1  # As if it were a later version.
  (copy / "old.tfci").write_bytes(bytes(data))
  with pytest.raises(bitstream.UnsupportedVersionError,
                     match=f"format version {data[2]} .*decode it with the "
                     "release"):
    bitstream.unpack(bytes(data))
  (copy / "manifest.json").write_text(json.dumps({"old": dict(
      entry, format_version=data[2], refused=True,
      file_sha256=hashlib.sha256(data).hexdigest())}))
  assert conformance.check(str(copy)) == {}
  (copy / "old.tfci").write_bytes(bytes(data[:-1]))
  assert conformance.check(str(copy)) == {"old": "the file changed"}
  current = (copy / "bls2017-mse-1.tfci").read_bytes()
  (copy / "old.tfci").write_bytes(current)
  (copy / "manifest.json").write_text(json.dumps({"old": dict(
      entry, format_version=data[2], refused=True,
      file_sha256=hashlib.sha256(current).hexdigest())}))
  assert conformance.check(str(copy)) == {
      "old": "a past format version that is not refused by name"}


@pytest.mark.slow
def test_a_replaced_shipped_model_is_reported_and_its_file_rewritten(
    tmp_path):
  copy = tmp_path / "conformance"
  shutil.copytree(DIRECTORY, copy)
  manifest = json.loads((copy / "manifest.json").read_text())
  recorded = manifest["bls2017-mse-1"]["fingerprint"]
  # As if bls2017-mse-1 had been shipped again since its file was written.
  manifest = {"bls2017-mse-1": dict(manifest["bls2017-mse-1"],
                                    fingerprint="00000000")}
  (copy / "manifest.json").write_text(json.dumps(manifest))
  assert "not the model that wrote it" in conformance.check(str(copy))[
      "bls2017-mse-1"]
  assert "bls2017-mse-1" in conformance.write(str(copy), log=lambda *_: None)
  rewritten = json.loads((copy / "manifest.json").read_text())
  assert rewritten["bls2017-mse-1"]["fingerprint"] == recorded


@pytest.mark.slow
@pytest.mark.parametrize("settings", [conformance.SETTINGS[3],
                                      conformance.SETTINGS[4]],
                         ids=["onednn-2threads-avx2", "no-onednn-1thread"])
def test_files_decode_alike_under_other_math_settings(settings):
  """A fresh process under other oneDNN, thread and instruction settings
  decodes every file to the same latents (and image within tolerance); the
  whole matrix is `python -m bls2017.conformance --matrix`."""
  assert conformance.check_in_process(settings, DIRECTORY) == {}


def test_every_past_format_version_has_a_real_file_refused_by_name(tmp_path):
  """Each system's past format versions: a file the revision that wrote
  that version wrote, refused naming the version and that revision."""
  from bls2017.core import systems  # pylint: disable=import-outside-toplevel
  with open(os.path.join(DIRECTORY, "manifest.json")) as f:
    manifest = json.load(f)
  past = {(e["system"], e["format_version"]): (name, e)
          for name, e in manifest.items() if e.get("refused")}
  for system in systems.registered().values():
    for version in range(1, system.format_version):
      name, entry = past[(system.name, version)]
      assert entry["written_by"] == system.past_versions[version]
      assert name == f"{system.name}.v{version}"
  # Checked as the suite's check does it (the refused entries alone).
  copy = tmp_path / "conformance"
  shutil.copytree(DIRECTORY, copy)
  (copy / "manifest.json").write_text(json.dumps(
      {name: entry for name, entry in past.values()}))
  assert conformance.check(str(copy)) == {}
  # A past file that no longer names the revision's record is a problem.
  name, entry = past[("content_weighted", 1)]
  (copy / "manifest.json").write_text(json.dumps(
      {name: dict(entry, written_by="0000000")}))
  assert conformance.check(str(copy)) == {
      name: "a past format version that is not refused by name"}


def test_the_command_refuses_a_past_version_before_opening_the_model(
    tmp_path, capsys, monkeypatch):
  from bls2017.core import saved_codec  # pylint: disable=import-outside-toplevel
  from content_weighted import cli  # pylint: disable=import-outside-toplevel
  from helpers.commands import run_main  # pylint: disable=import-outside-toplevel

  def no_model(*_, **__):
    raise AssertionError("a model was opened for a file it must refuse")
  monkeypatch.setattr(saved_codec, "open_codec", no_model)
  source = os.path.join(DIRECTORY, "content_weighted.v1.tfci")
  shutil.copy(source, tmp_path / "old.tfci")
  assert run_main(cli, "content_weighted", "decompress", "--model_path",
                  os.path.join(DIRECTORY, "models", "content_weighted.npz"),
                  tmp_path / "old.tfci") == 1
  err = capsys.readouterr().err
  assert err.count("\n") == 1, err
  assert "format version 1 " in err and "revision a30e6d0" in err, err
  assert not os.path.exists(tmp_path / "old.tfci.png")

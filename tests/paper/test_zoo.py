"""The shipped models: every one loads, round-trips bit-exactly and keeps
its rate; the default one's golden bitstream and image hashes, the demo,
the listing, and choosing a model by target rate.

If the model, the bitstream format or the numerics of encoding or decoding
change, the hashes change: update them only on purpose, with
`PYTHONPATH=tests python tests/paper/test_zoo.py`, which writes the golden
file again from the default model and prints the hashes to paste below.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bls2017 import zoo
from bls2017.core import bitstream, codec, images, metrics
from bls2017.paper.architecture import STRIDE
from helpers.commands import ROOT, run_cli, run_subprocess
from helpers.synthetic import integer_image

GOLDEN_INPUT = (75, 110)  # height, width: not multiples of 16 on purpose,
# so that the hashes hold the padding and the crop back too.
# integer_image(*GOLDEN_INPUT) compressed by the default model, committed.
GOLDEN_FILE = os.path.join(os.path.dirname(__file__), "data",
                           "golden-bls2017-mse-4.tfci")
GOLDEN_BITSTREAM_SHA256 = (
    "a862ae725c214bc746a28c1257f8614f49d2a6e262e915c2fb6081b59c8d8ca4")
# The decoded latents y_hat (float32: integers plus the stored offsets).
GOLDEN_LATENTS_SHA256 = (
    "9fb327ef32cd1ec0afd1460b32b869cecb8e173fdeaf0c8d4504eae2b0628d00")
GOLDEN_DECODED_SHA256 = (
    "3e3e6f929e8dda12e1d76230634ccac4d6459682034a7d2d108a6a6f42f3ba10")


def _sha256(data):
  return hashlib.sha256(data).hexdigest()


def _latents(shipped, data):
  """y_hat of a bitstream, range-decoded with the model's own tables."""
  import tensorflow as tf
  header, payload = bitstream.unpack(data, shipped.fingerprint,
                                     shipped.magic)
  shape = (images.latent_side(header.height, STRIDE),
           images.latent_side(header.width, STRIDE))
  return np.asarray(shipped.decompressor.decoder.coder.decode(
      tf.constant(payload), shape))


def test_golden_file_decodes_to_its_latents_and_pixels():
  """Decoding is exact on every CPU: the range decoder and the stored
  tables give the same latents, and g_s the same pixels."""
  shipped = codec.load(zoo.DEFAULT)
  with open(GOLDEN_FILE, "rb") as f:
    data = f.read()
  assert _sha256(data) == GOLDEN_BITSTREAM_SHA256
  assert bitstream.unpack(data)[0].fingerprint == shipped.fingerprint, (
      "the default model changed: write the golden file again from it, "
      "and its hashes")
  assert _sha256(_latents(shipped, data).tobytes()) == GOLDEN_LATENTS_SHA256
  x_hat = shipped.decompress(data)
  assert x_hat.shape == GOLDEN_INPUT + (3,)
  assert _sha256(x_hat.tobytes()) == GOLDEN_DECODED_SHA256


def test_encoding_gives_the_golden_latents():
  """Encoding is not promised bit-exact across CPUs (BUILD_NOTES): g_a's
  float output can round a latent near a half the other way. So the
  latents it writes may differ from the golden file's in a few places by
  one step; where they are all equal, so are the bytes."""
  shipped = codec.load(zoo.DEFAULT)
  data = shipped.compress(integer_image(*GOLDEN_INPUT))
  with open(GOLDEN_FILE, "rb") as f:
    golden = f.read()
  ours, theirs = _latents(shipped, data), _latents(shipped, golden)
  differ = ours != theirs
  assert np.mean(differ) <= 1e-3
  assert np.all(np.abs(ours - theirs)[differ] <= 1.0 + 1e-6)
  if not differ.any():
    assert data == golden


@pytest.mark.slow
def test_decompress_finds_the_shipped_model_by_fingerprint(tmp_path,
                                                           write_image):
  path, x = write_image(40, 72)
  assert run_cli("compress", path) == 0
  assert run_cli("decompress", path + ".tfci") == 0
  np.testing.assert_array_equal(
      images.read(path + ".tfci.png"),
      codec.load(zoo.DEFAULT).decompress(open(path + ".tfci", "rb").read()))


@pytest.mark.slow
def test_demo_runs_offline_on_the_sample_photo(tmp_path):
  result = run_subprocess("demo", "--output_dir", tmp_path)
  assert result.returncode == 0, result.stderr
  assert "bls2017" in result.stdout and "JPEG q=" in result.stdout
  for suffix in (".tfci", ".tfci.png", ".jpeg.jpg", ".crops.png"):
    assert os.path.getsize(tmp_path / ("grace_hopper.jpg" + suffix)) > 1000
  # The JPEG is matched to the .tfci's size: the largest quality whose file
  # is not larger.
  budget = os.path.getsize(tmp_path / "grace_hopper.jpg.tfci")
  assert os.path.getsize(tmp_path / "grace_hopper.jpg.jpeg.jpg") <= budget
  quality = int(re.search(r"JPEG q=(\d+)", result.stdout).group(1))
  from bls2017.core import baselines
  photo = images.read(images.sample_photo())
  assert len(baselines.encode("jpeg", photo, quality)) <= budget
  assert len(baselines.encode("jpeg", photo, quality + 1)) > budget
  with Image.open(tmp_path / "grace_hopper.jpg.crops.png") as crops:
    assert crops.width > 2 * crops.height  # Three panels side by side.
  # The figures as JSON are those printed, of the files written.
  record = json.loads((tmp_path / "grace_hopper.jpg.json").read_text())
  ours, jpeg = record["codecs"]
  assert (record["model"], ours["codec"], jpeg["codec"]) == (
      zoo.DEFAULT, "bls2017", "jpeg")
  assert ours["bytes"] == budget and jpeg["quality"] == quality
  assert jpeg["bytes"] == os.path.getsize(
      tmp_path / "grace_hopper.jpg.jpeg.jpg")
  for row in record["codecs"]:
    assert (f"{row['bpp']:.3f}{row['psnr']:>9.2f}{row['ms_ssim']:>9.4f}"
            in result.stdout)
  assert record["machine"]["cores"] >= 1


NAMES = list(zoo.catalog())


@pytest.mark.parametrize("folder", ("rd", "kodak"))
def test_the_committed_curves_are_of_the_shipped_rgb_ladder(folder):
  """The pages' validation and Kodak figures: measured on the RGB models
  shipped now (a promotion fails this until they are measured again)."""
  with open(os.path.join(ROOT, "results", folder, "training.json")) as f:
    measured = {r["model"]: r["fingerprint"] for r in json.load(f)["models"]}
  assert measured == {name: zoo.catalog()[name]["fingerprint"]
                      for name in zoo.ladder(3)}, (
                          f"evaluate the shipped ladder into results/{folder}"
                          " again (docs/evaluation.md)")


def test_the_committed_demo_figures_are_the_default_models():
  """The README's demo sentence: made by the model shipped as default."""
  with open(os.path.join(ROOT, "results", "demo",
                         "grace_hopper.jpg.json")) as f:
    record = json.load(f)
  assert (record["model"], record["fingerprint"]) == (
      zoo.DEFAULT, zoo.catalog()[zoo.DEFAULT]["fingerprint"]), (
          "run `bls2017 demo --output_dir results/demo` again")


def _sample(channels):
  return images.read(images.sample_photo(), channels)


def test_zoo_fits_in_the_repository_budget():
  total = sum(os.path.getsize(zoo.CATALOG.path(name))
              for name in NAMES)
  assert total < 40e6


@pytest.mark.parametrize("channels", (1, 3))
def test_ladders_are_named_in_rate_order(channels):
  ladder = zoo.ladder(channels)
  lambdas = [zoo.catalog()[name]["lambda"] for name in ladder]
  assert lambdas == sorted(lambdas)
  assert ladder == sorted(ladder, key=lambda n: int(n.rsplit("-", 1)[1]))


@pytest.fixture(scope="module")
def encoded_elsewhere(tmp_path_factory):
  """{name: (bitstream, decoded bytes)} from a separate process."""
  out = tmp_path_factory.mktemp("zoo") / "encoded.npz"
  script = f"""
import numpy as np
from bls2017.core import codec, images
from bls2017 import zoo
arrays = {{}}
for name in zoo.catalog():
  c = codec.load(name)
  data = c.compress(images.read(images.sample_photo(), c.channels))
  arrays[name + "/data"] = np.frombuffer(data, np.uint8)
  arrays[name + "/x_hat"] = c.decompress(data)
np.savez({str(out)!r}, **arrays)
"""
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3",
             OMP_NUM_THREADS="1")
  result = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr
  with np.load(out) as arrays:
    return {name: (arrays[name + "/data"].tobytes(), arrays[name + "/x_hat"])
            for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.slow
def test_zoo_model_round_trips_and_keeps_its_rate(name, encoded_elsewhere):
  entry = zoo.catalog()[name]
  model = codec.load(name)
  assert model.fingerprint.hex() == entry["fingerprint"]
  assert (model.channels, model.model.lmbda) == (entry["channels"],
                                                 entry["lambda"])
  # What the pages' table says of its transforms is what the file holds.
  assert (model.model.num_filters, model.model.gdn) == (
      entry["num_filters"], zoo.gdn(entry))
  x = _sample(model.channels)
  data = model.compress(x)
  # Within a few bytes, not exact: oneDNN picks kernels by CPU, and the
  # float analysis transform may round a latent or two the other way.
  assert len(data) == pytest.approx(entry["sample_photo_bytes"], rel=1e-3)
  # The README's claim: the file, header included, is within 1 % of the
  # entropy model's information content.
  bits = model.information_content(x)
  assert bits <= 8 * len(data) <= 1.01 * bits, 8 * len(data) / bits
  x_hat = model.decompress(data)
  assert x_hat.shape == x.shape and x_hat.dtype == np.uint8
  # Quality floor: on the sample photo every shipped model reaches at least
  # its recorded mean PSNR on the validation set (it does by 0.9-1.4 dB).
  assert metrics.psnr(x, x_hat) >= entry["validation"]["psnr"], name
  # Decoding is bit-exact across processes, whichever process encoded.
  other_data, other_x_hat = encoded_elsewhere[name]
  np.testing.assert_array_equal(model.decompress(other_data), other_x_hat)
  np.testing.assert_array_equal(x_hat, model.decompress(data))


def test_models_markdown_is_the_catalogs_table(capsys):
  """`bls2017 models --markdown` prints the pages' zoo table (the
  generated block `zoo-table`), a row for every model, gray ones too."""
  from bls2017.docs import tables  # pylint: disable=import-outside-toplevel
  assert run_cli("models", "--markdown") == 0
  table = capsys.readouterr().out.strip()
  assert table == tables.zoo_table(zoo.catalog())
  assert len(table.splitlines()) == 2 + len(NAMES)


def test_entries_without_a_gdn_form_are_simplified():
  """As model files written before the option load (bls2017.paper.model)."""
  assert zoo.gdn({"channels": 3}) == "simplified"
  assert zoo.gdn({"gdn": "paper"}) == "paper"


REPLACED = zoo.CATALOG.replaced()


def test_each_replaced_models_record_leads_to_its_successor():
  catalog = zoo.catalog()
  for fingerprint, record in REPLACED.items():
    assert record["entry"]["fingerprint"] == fingerprint
    successor = record["replaced_by"]
    while successor != catalog[record["name"]]["fingerprint"]:
      successor = REPLACED[successor]["replaced_by"]  # Replaced again.


@pytest.mark.slow
@pytest.mark.parametrize("fingerprint", sorted(REPLACED))
def test_the_revision_named_for_a_replaced_model_has_its_file(fingerprint,
                                                              tmp_path):
  """What the refusal of its bitstreams tells the user to decode with."""
  record = REPLACED[fingerprint]
  if subprocess.run(["git", "cat-file", "-e",
                     f"{record['revision']}^{{commit}}"],
                    cwd=ROOT, capture_output=True).returncode:
    pytest.skip("needs the repository's history (a full clone)")
  path = tmp_path / "old.npz"
  with open(path, "wb") as f:
    subprocess.run(["git", "show", f"{record['revision']}:bls2017/zoo/"
                    f"{record['name']}.npz"], stdout=f, cwd=ROOT, check=True)
  assert codec.load(str(path)).fingerprint.hex() == fingerprint


def _target_bytes_to_bpp(num_bytes, x):
  return 8 * num_bytes / (x.shape[0] * x.shape[1])


@pytest.mark.slow
def test_target_bpp_picks_the_highest_model_that_fits(tmp_path, capsys):
  ladder = zoo.ladder(3)
  x = _sample(3)
  # Sizes on this machine (the catalog's may differ by a byte elsewhere).
  encoded = [codec.load(n).compress(x) for n in ladder]
  # Just over the second-highest model's size, and the top one's.
  for pick in sorted({max(len(ladder) - 2, 0), len(ladder) - 1}):
    target = _target_bytes_to_bpp(len(encoded[pick]) + 1, x)
    output = tmp_path / f"{pick}.tfci"
    assert run_cli("compress", images.sample_photo(), output,
                   "--target_bpp", target) == 0
    assert f"Model {ladder[pick]} " in capsys.readouterr().out
    assert output.read_bytes() == encoded[pick]


@pytest.mark.slow
def test_target_bpp_below_the_ladder_is_refused(tmp_path, capsys):
  output = tmp_path / "low.tfci"
  assert run_cli("compress", images.sample_photo(), output,
                 "--target_bpp", "0.001") == 1
  error = capsys.readouterr().err
  assert "below what the lowest-rate model" in error
  assert error.count("\n") == 1 and not output.exists()


def test_target_bpp_and_model_are_exclusive(capsys):
  assert run_cli("compress", images.sample_photo(), "--target_bpp", "1",
                 "--model", zoo.DEFAULT) == 1
  assert "not both" in capsys.readouterr().err


def test_models_lists_every_zoo_model(capsys):
  assert run_cli("models") == 0
  printed = capsys.readouterr().out
  rows = {line.split()[0]: line.split() for line in printed.splitlines()}
  for name, entry in zoo.catalog().items():
    assert f"{entry['validation']['bpp']:.3f}" in rows[name]
    assert str(entry["num_filters"]) in rows[name]
    assert zoo.gdn(entry) in rows[name]
  json.dumps(zoo.catalog())  # Serialisable as shipped.


@pytest.mark.slow
def test_target_bpp_codes_grayscale_images_with_the_grayscale_ladder(
    tmp_path, capsys):
  from PIL import Image
  path = tmp_path / "gray.png"
  Image.fromarray(_sample(1)[..., 0]).save(path)
  assert run_cli("compress", path, "--target_bpp", "2") == 0
  assert f"Model {zoo.ladder(1)[-1]} " in capsys.readouterr().out
  assert codec.load(zoo.ladder(1)[-1]).decompress(
      (tmp_path / "gray.png.tfci").read_bytes()).shape[-1] == 1


@pytest.mark.slow
# MS-SSIM is undefined on images this small; only bpp and PSNR are held.
@pytest.mark.filterwarnings("ignore:Mean of empty slice")
def test_compaction_measures_each_form_from_the_file_as_shipped(tmp_path):
  """Each int8 form is written from the file itself: a file already in a
  form comes back unchanged in it (not rounded by the other form first)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from bls2017.core import model_file  # pylint: disable=import-outside-toplevel
  from bls2017.zoo import compaction  # pylint: disable=import-outside-toplevel
  from helpers.models import make_model_file  # pylint: disable=import-outside-toplevel
  from helpers.synthetic import synthetic_image  # pylint: disable=import-outside-toplevel
  source = model_file.load(make_model_file(tmp_path / "m.npz", 3, 32))
  path = str(tmp_path / "rdft.npz")
  model_file.save(source.model, path, dtype="int8_rdft")
  images_dir = tmp_path / "images"
  images_dir.mkdir()
  for i in range(2):
    Image.fromarray(synthetic_image(40, 56 + 8 * i)).save(
        images_dir / f"{i}.png")
  paths = [str(p) for p in sorted(images_dir.iterdir())]
  (tmp_path / "work").mkdir()
  row = compaction.measure(path, paths, str(tmp_path / "work"))
  assert row["shipped"]["format"] == "int8_rdft"
  assert row["int8"]["format"] == "int8"
  assert row["int8_rdft"]["psnr_change_db"] == 0
  assert row["int8_rdft"]["bpp_change_percent"] == 0
  assert row["int8"]["file_mib"] < row["int8_rdft"]["file_mib"]


def write_golden_file():
  """Writes GOLDEN_FILE from the default model; prints its three hashes."""
  shipped = codec.load(zoo.DEFAULT)
  data = shipped.compress(integer_image(*GOLDEN_INPUT))
  with open(GOLDEN_FILE, "wb") as f:
    f.write(data)
  for name, content in (
      ("BITSTREAM", data), ("LATENTS", _latents(shipped, data).tobytes()),
      ("DECODED", shipped.decompress(data).tobytes())):
    print(f"GOLDEN_{name}_SHA256 = (\n    \"{_sha256(content)}\")")


if __name__ == "__main__":
  write_golden_file()

r"""Conformance bitstreams: files written once that every later version of
the decoders, on any CPU, must decode the same way.

    python -m bls2017.conformance            # decode every file and check
    python -m bls2017.conformance --write    # write the missing files
    python -m bls2017.conformance --matrix=results/conformance/matrix.json
        # the check again in fresh processes under every setting of
        # SETTINGS: oneDNN on/off, 1 or 2 threads, instructions up to AVX2

    tests/conformance/
      image.png           the source: a 64x48 crop of the sample photograph
                          (gray models code its luma)
      models/*.npz        small untrained models of the related systems
                          (seeded, 8 filters), shipped with the files
      NAME.tfci           one bitstream per shipped model and related system
      NAME.vN.tfci        a file of a past format version N, written by the
                          revision `written_by` of the manifest (with the
                          model models/NAME.vN.npz, for that revision): now
                          refused, naming the version and that revision
      decoded/NAME.png    its decoded image
      manifest.json       per file: model, system, format version, and the
                          SHA-256 of the file, of its decoded latents (what
                          the entropy decoder returns: exact on any CPU) and
                          of its decoded image (g_s in float: it may differ
                          by up to `pixel_tolerance` on another CPU)

A file is never rewritten while its system's format version and its model
stand: `--write` writes the missing files, and the file of a shipped model
that was replaced (the campaign's `promote` runs it). When a system's
format version changes, its files of the old version stay, renamed
NAME.vN.tfci, and are then expected to be refused with a one-line
UnsupportedVersionError.
"""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
from absl.flags import argparse_flags
from PIL import Image

from bls2017.core import bitstream, catalog, images, lazy, model_file
from bls2017.core import systems

codec_lib = lazy.module("bls2017.core.codec")
tf = lazy.module("tensorflow")

# In the project's checkout (a development tool: the tests are not
# installed with the package).
DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "conformance")
# Width, height: multiples of 16, so no padding (the golden file of
# tests/paper/test_zoo.py holds a padded size).
SIZE = (64, 48)
# What a decoded pixel may differ by on another CPU (g_s runs in float).
PIXEL_TOLERANCE = 1


def _sha256(data):
  return hashlib.sha256(data).hexdigest()


def source_image(directory):
  """image.png: written from the sample photograph if missing."""
  path = os.path.join(directory, "image.png")
  if not os.path.exists(path):
    photo = Image.open(images.sample_photo()).convert("RGB")
    left = (photo.width - 4 * SIZE[0]) // 2
    top = (photo.height - 4 * SIZE[1]) // 2
    photo.crop((left, top, left + 4 * SIZE[0], top + 4 * SIZE[1])).resize(
        SIZE, Image.LANCZOS).save(path)
  return path


def related_models(directory):
  """{name: path} of the related systems' small models, written (seeded,
  tables fitted on the source image) if missing."""
  from cae_admm import codec as cae_codec  # pylint: disable=import-outside-toplevel
  from cae_admm.model import CAEADMMModel  # pylint: disable=import-outside-toplevel
  from content_weighted import codec as cw_codec  # pylint: disable=import-outside-toplevel
  from content_weighted.model import ContentWeightedModel  # pylint: disable=import-outside-toplevel
  def cae_admm():
    # Untrained, its latents would all round to 0: its last analysis layer
    # is scaled so that they take several values.
    model = CAEADMMModel(num_filters=8, latent_channels=4,
                         keep_fraction=0.25)
    last = model.g_a.layers[-1].kernel
    last.assign(20 * last)
    return model

  builders = {
      "cae_admm": (cae_admm, cae_codec.fitted_tables),
      "content_weighted": (lambda: ContentWeightedModel(
          0.01, num_filters=8, code_channels=4, groups=2, num_levels=4),
                           cw_codec.fitted_tables)}
  x = images.read(source_image(directory), 3)[None]
  paths = {}
  for name, (build, fitted_tables) in builders.items():
    path = os.path.join(directory, "models", name + ".npz")
    if not os.path.exists(path):
      os.makedirs(os.path.dirname(path), exist_ok=True)
      tf.keras.utils.set_random_seed(0)
      model = build()
      model_file.save(model, path,
                      make_tables=lambda m, f=fitted_tables: f(m, [x]))
    paths[name] = path
  return paths


def models(directory):
  """{file name: (model name or path, model file path)}: every shipped
  model, then the related systems' small models."""
  found = {name: (name, catalog.resolve(name)) for name in catalog.entries()}
  for name, path in related_models(directory).items():
    found[name] = (os.path.relpath(path, directory), path)
  return found


def decoded_latents(codec, data):
  """The arrays the entropy decoder returns for `data` (before g_s)."""
  header, payload = bitstream.unpack(data, codec.fingerprint, codec.magic)
  decompressor = codec.decompressor
  shape = (images.latent_side(header.height, decompressor.stride),
           images.latent_side(header.width, decompressor.stride))
  return [np.asarray(a) for a in decompressor.decoder.latents(
      tf.constant(payload), shape)]


def _record(name, model, codec, data, x_hat):
  return {"model": model, "system": codec.method,
          "fingerprint": codec.fingerprint.hex(),
          "format_version": bitstream.version_of(codec.magic),
          "file_sha256": _sha256(data),
          "latents_sha256": _sha256(b"".join(
              a.tobytes() for a in decoded_latents(codec, data))),
          "image_sha256": _sha256(x_hat.tobytes()),
          "pixel_tolerance": PIXEL_TOLERANCE,
          "decoded": f"decoded/{name}.png"}


def write(directory=DIRECTORY, log=print):
  """Writes every missing file and its manifest entry; returns the names
  written. Existing files stay as they are."""
  manifest_path = os.path.join(directory, "manifest.json")
  manifest = (json.load(open(manifest_path))
              if os.path.exists(manifest_path) else {})
  written = []
  for name, (model, path) in models(directory).items():
    target = os.path.join(directory, name + ".tfci")
    version = systems.by_name(model_file.system_of(path)).format_version
    old = manifest.get(name, {}).get("format_version")
    same_model = manifest.get(name, {}).get("fingerprint") == (
        model_file.identity(path)[2].hex())
    if os.path.exists(target) and old == version and same_model:
      log(f"{name}: kept (format version {version} and model stand)")
      continue
    if os.path.exists(target) and old is not None and old != version:
      # A past version's file stays, to be refused from now on.
      os.replace(target, os.path.join(directory, f"{name}.v{old}.tfci"))
      manifest[f"{name}.v{old}"] = dict(manifest[name], refused=True)
      log(f"{name}: version {old} kept as {name}.v{old}.tfci; record the "
          f"last revision that wrote it: past_versions={{{old}: ...}} in "
          "its system, written_by in the manifest")
    codec = codec_lib.load(path)
    x = images.read(source_image(directory), codec.channels)
    data = codec.compress(x)
    x_hat = codec.decompress(data)
    os.makedirs(os.path.join(directory, "decoded"), exist_ok=True)
    images.write_png(os.path.join(directory, "decoded", name + ".png"), x_hat)
    with images.atomic_output(target) as f:
      f.write(data)
    manifest[name] = _record(name, model, codec, data, x_hat)
    written.append(name)
    log(f"{name}: wrote {len(data)} bytes")
  images.write_json(manifest_path, manifest, sort_keys=True)
  return written


def check(directory=DIRECTORY):
  """Decodes every file of the manifest; returns {name: problem} of those
  that do not decode as recorded (empty: all conform)."""
  with open(os.path.join(directory, "manifest.json")) as f:
    manifest = json.load(f)
  problems = {}
  for name, entry in manifest.items():
    with open(os.path.join(directory, name + ".tfci"), "rb") as f:
      data = f.read()
    if entry.get("refused"):
      problems.update(_refusal_problem(name, data, entry))
      continue
    model = entry["model"]
    path = (os.path.join(directory, model) if model.endswith(".npz")
            else catalog.resolve(model))
    codec = codec_lib.load(path)
    if codec.fingerprint.hex() != entry["fingerprint"]:
      problems[name] = (f"{model} is not the model that wrote it (shipped "
                        "again since?): python -m bls2017.conformance "
                        "--write")
      continue
    latents = b"".join(a.tobytes() for a in decoded_latents(codec, data))
    x_hat = codec.decompress(data)
    reference = images.read(os.path.join(directory, entry["decoded"]),
                            codec.channels)
    difference = int(np.max(np.abs(x_hat.astype(int) - reference)))
    if _sha256(data) != entry["file_sha256"]:
      problems[name] = "the file changed"
    elif _sha256(latents) != entry["latents_sha256"]:
      problems[name] = "decoded latents differ"
    elif (_sha256(x_hat.tobytes()) != entry["image_sha256"] and
          difference > entry["pixel_tolerance"]):
      problems[name] = f"decoded image differs by {difference}"
  return problems


def _refusal_problem(name, data, entry):
  """{name: problem} unless a past version's file is refused, naming its
  version (and the revision that wrote it, where recorded)."""
  if _sha256(data) != entry["file_sha256"]:
    return {name: "the file changed"}
  try:
    bitstream.unpack(data)
  except bitstream.UnsupportedVersionError as e:
    named = [f"version {entry['format_version']}", entry.get("written_by")]
    if all(word in str(e) for word in named if word):
      return {}
  return {name: "a past format version that is not refused by name"}


# What may change a float computation's last bits between machines.
SETTINGS = [
    {"TF_ENABLE_ONEDNN_OPTS": onednn, "TF_NUM_INTRAOP_THREADS": threads,
     "TF_NUM_INTEROP_THREADS": threads, **({"ONEDNN_MAX_CPU_ISA": isa}
                                            if isa else {})}
    for onednn in ("1", "0") for threads in ("1", "2")
    for isa in (None, "AVX2")]


def check_in_process(settings, directory=DIRECTORY):
  """`check` in a fresh process under the environment `settings`;
  returns its problems."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **settings)
  env["PYTHONPATH"] = os.pathsep.join(
      [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))] +
      [p for p in [os.environ.get("PYTHONPATH")] if p])
  result = subprocess.run(
      [sys.executable, "-m", "bls2017.conformance", "--directory",
       directory, "--json"], capture_output=True, text=True, env=env,
      timeout=1800, check=False)
  if result.returncode not in (0, 1):
    return {"process": result.stderr.strip().splitlines()[-1:]}
  return json.loads(result.stdout.strip().splitlines()[-1])


def matrix(output, directory=DIRECTORY, log=print):
  """Runs `check_in_process` under every SETTINGS; writes the results and
  the machine to `output`; returns them."""
  from bls2017.core import timing  # pylint: disable=import-outside-toplevel
  runs = []
  for settings in SETTINGS:
    problems = check_in_process(settings, directory)
    runs.append({"settings": settings, "problems": problems})
    log(f"{settings}: {problems or 'every file conforms'}")
  with open(os.path.join(directory, "manifest.json")) as f:
    files = sorted(json.load(f))
  result = {"files": files, "runs": runs, "machine": timing.machine()}
  images.write_json(output, result)
  return result


def main():
  parser = argparse_flags.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--write", action="store_true",
                      help="Write the missing files (never rewrites one).")
  parser.add_argument("--directory", default=DIRECTORY,
                      help="The conformance folder.")
  parser.add_argument("--matrix", metavar="OUTPUT", default=None,
                      help="Check in fresh processes under every setting "
                      "of SETTINGS; write the results as JSON to OUTPUT.")
  parser.add_argument("--json", action="store_true",
                      help="Print the problems as one JSON line.")
  args = parser.parse_args()
  if args.write:
    write(args.directory)
  if args.matrix:
    result = matrix(args.matrix, args.directory)
    raise SystemExit(1 if any(r["problems"] for r in result["runs"]) else 0)
  problems = check(args.directory)
  if args.json:
    print(json.dumps(problems))
    raise SystemExit(1 if problems else 0)
  for name, problem in problems.items():
    print(f"{name}: {problem}")
  print(f"{len(problems)} of the files do not conform" if problems
        else "every file conforms")
  raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
  main()

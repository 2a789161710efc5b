r"""Splits a training set into tar parts that each fit a limited upload.

    python -m bls2017.jax_twin.pack --train_glob='photos/**/*.png' \
        --output_dir=.pack --part_mib=28

Writes OUTPUT_DIR/part-000.tar, part-001.tar, ...: the image files as they
are (no re-encoding), under their paths relative to the glob's fixed
prefix, each part at most --part_mib MiB (an image larger than that gets a
part of its own). On the training machine, `tar -xf part-NNN.tar -C DIR`
for every part rebuilds the set under DIR, so that --train_glob='DIR/**/*'
reads the same images. Prints the parts and their sizes and writes them to
OUTPUT_DIR/manifest.json.
"""

import glob as glob_lib
import os
import tarfile

from absl import app, flags

from bls2017.core import images, timing

_FLAGS = flags.FLAGS

# tar adds a 512-byte header per file and pads each file to 512 bytes.
_TAR_OVERHEAD = 1024


def plan_parts(paths, limit_bytes):
  """Groups paths, in order, into lists whose tar would fit limit_bytes."""
  parts, current, size = [], [], 0
  for path in paths:
    cost = os.path.getsize(path) + _TAR_OVERHEAD
    if current and size + cost > limit_bytes:
      parts.append(current)
      current, size = [], 0
    current.append(path)
    size += cost
  return parts + ([current] if current else [])


def fixed_prefix(pattern):
  """The directory part of a glob before its first wildcard."""
  head = pattern
  for wildcard in "*?[":
    head = head.split(wildcard)[0]
  return os.path.dirname(head) or "."


def pack(pattern, output_dir, part_mib):
  """Writes the parts and manifest.json; returns the manifest."""
  paths = sorted(p for p in glob_lib.glob(pattern, recursive=True)
                 if os.path.isfile(p))
  if not paths:
    raise SystemExit(f"--train_glob {pattern!r} matches no files.")
  root = fixed_prefix(pattern)
  os.makedirs(output_dir, exist_ok=True)
  written = []
  for index, part in enumerate(plan_parts(paths, part_mib * 2 ** 20)):
    target = os.path.join(output_dir, f"part-{index:03d}.tar")
    with tarfile.open(target, "w") as tar:
      for path in part:
        tar.add(path, arcname=os.path.relpath(path, root))
    written.append({"part": os.path.basename(target), "files": len(part),
                    "mib": round(os.path.getsize(target) / 2 ** 20, 2)})
    print(f"{target}: {len(part)} files, {written[-1]['mib']:.1f} MiB")
  manifest = {"files": len(paths), "image_mib": round(
      sum(map(os.path.getsize, paths)) / 2 ** 20, 2), "part_mib": part_mib,
              "parts": written, "machine": timing.machine()}
  images.write_json(os.path.join(output_dir, "manifest.json"), manifest)
  return manifest


def define_flags():
  """The command's flags; defined when it runs, so that importing this
  module leaves absl's global flags (which every absl parser sees) alone."""
  flags.DEFINE_string("train_glob", None, "Glob of training images.",
                      required=True)
  flags.DEFINE_string("output_dir", ".pack", "Where to write the parts.")
  flags.DEFINE_float("part_mib", 24., "Largest part, in MiB.")


def main(argv):
  del argv
  pack(_FLAGS.train_glob, _FLAGS.output_dir, _FLAGS.part_mib)


if __name__ == "__main__":
  define_flags()
  app.run(main)

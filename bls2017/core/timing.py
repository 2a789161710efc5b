"""The benchmarks' one timer, the flags that set it, and the machine that
measured, in plain Python (the JAX side uses it too)."""

from importlib import metadata
import os
import platform
import statistics
import subprocess
import time


def median_seconds(fn, repeats):
  """Median wall seconds of `repeats` calls of fn, after one warm-up call
  (which traces or compiles and fills caches)."""
  fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def add_timing_flags(parser, repeats, output):
  """--repeats (for `median_seconds`) and --output (the JSON written), as
  every argparse-flags benchmark names them."""
  parser.add_argument("--repeats", type=int, default=repeats,
                      help="Timed runs of each measurement (after one "
                      "warm-up); the median is reported.")
  parser.add_argument("--output", default=output, help="JSON file to write.")


def machine():
  """What measured or trained: CPU model, cores, library versions (the
  classical codecs' included), and the project's commit."""
  cpu, flags = platform.processor() or platform.machine(), set()
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
        elif line.startswith("flags"):
          flags = set(line.split(":", 1)[1].split())
          break
  except OSError:
    pass
  versions = {}
  for name in ("tensorflow", "tensorflow-compression", "numpy", "Pillow"):
    try:
      versions[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      versions[name] = None
  return {"cpu": cpu, "cores": os.cpu_count(),
          # The vector and matrix instructions that speed the training step.
          "isa": sorted(flags & {"avx2", "fma", "avx512f", "avx512_bf16",
                                 "amx_bf16", "amx_tile"}),
          "python": platform.python_version(), "commit": commit(),
          "codec_libraries": codec_libraries()} | versions


def codec_libraries():
  """The classical codecs' library versions as Pillow reports them (None:
  that codec is missing from this Pillow build)."""
  from PIL import features  # pylint: disable=import-outside-toplevel
  versions = {library: features.version(feature) for library, feature in (
      ("libjpeg", "jpg"), ("openjpeg", "jpg_2000"), ("libwebp", "webp"),
      ("libavif", "avif"))}
  # libjpeg's own version is its API's (6.2); the turbo build has its own.
  if features.check_feature("libjpeg_turbo"):
    versions["libjpeg-turbo"] = features.version_feature("libjpeg_turbo")
  return versions


def commit():
  """The git commit of the checkout the bls2017 package runs from (None
  outside one); "+" marks uncommitted changes to the package."""
  here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here,
                            capture_output=True, text=True, check=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "."],
                           cwd=here, capture_output=True,
                           text=True, check=True)
  except (OSError, subprocess.CalledProcessError):
    return None
  return commit.stdout.strip() + ("+" if dirty.stdout.strip() else "")

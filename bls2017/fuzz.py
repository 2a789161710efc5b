r"""Coverage-guided fuzzing of the decoders with atheris (libFuzzer).

    pip install -e ".[fuzz]"
    python -m bls2017.fuzz --runs 1000000 --output results/fuzz/atheris.json

Each input is one flag byte and a bitstream. The flag's low bit asks for
the integrity check to be recomputed over the mutated bytes, so that half
the inputs get past it and reach the payload decoders. The target runs
what `bls2017 decompress` runs: the header parsed once
(`bitstream.unpack`), then the codec of the model that the header names
decodes it (`decompress(data, header)`). The models are those of the
conformance files (`tests/conformance`: every shipped model and each
related system), which also seed the corpus. Any outcome but an image of
the header's size or a `BitstreamError` is a crash; an input that runs
longer than --timeout seconds is a hang. Headers that promise more than
--max_pixels pixels are parsed but not decoded, so that one run's memory
stays bounded (what such a header may allocate is what it promises).

The run is a child process (libFuzzer ends the process it runs in); the
parent writes its final figures -- executions, coverage, crashes, hangs,
the slowest input, peak memory -- and the machine, as JSON.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from absl.flags import argparse_flags

FLAG_BYTE = 1  # Byte 0 of an input: bit 0 = recompute the integrity check.


def _codecs():
  """{fingerprint: codec} of the conformance files' models."""
  from bls2017 import conformance  # pylint: disable=import-outside-toplevel
  from bls2017.core import saved_codec  # pylint: disable=import-outside-toplevel
  found = {}
  for _, path in conformance.models(conformance.DIRECTORY).values():
    codec = saved_codec.open_codec(path, keras=True)
    found[codec.fingerprint] = codec
  return found


OUTCOMES = ("header refused", "another model, or too large",
            "payload refused", "decoded")


def make_target(max_pixels, counts_path=None):
  """The function libFuzzer calls with each input. counts_path: where to
  keep {outcome: inputs} (rewritten every 1,000 inputs: libFuzzer ends the
  process without returning)."""
  from bls2017.core import bitstream  # pylint: disable=import-outside-toplevel
  codecs = _codecs()
  counts = dict.fromkeys(OUTCOMES, 0)

  def outcome(data):
    fix, data = data[0] & 1, bytes(data[FLAG_BYTE:])
    if fix and len(data) >= bitstream.HEADER_BYTES:
      fields, payload = data[:12], data[bitstream.HEADER_BYTES:]
      data = fields + bitstream.checksum(fields + payload) + payload
    try:
      header, _ = bitstream.unpack(data)
    except bitstream.BitstreamError:
      return "header refused"
    codec = codecs.get(header.fingerprint)
    if codec is None or header.height * header.width > max_pixels:
      return "another model, or too large"
    try:
      x_hat = codec.decompress(data, header)
    except bitstream.BitstreamError:
      return "payload refused"
    if x_hat.shape != (header.height, header.width, codec.channels) or (
        x_hat.dtype != "uint8"):
      raise AssertionError(f"decoded {x_hat.dtype} {x_hat.shape} for a "
                           f"{header.height}x{header.width} header")
    return "decoded"

  def decode(data):
    if not data:
      return
    counts[outcome(data)] += 1
    if counts_path and sum(counts.values()) % 1000 == 0:
      with open(counts_path, "w") as f:
        json.dump(counts, f)

  return decode


def _child(args, libfuzzer_args):
  import atheris  # pylint: disable=import-outside-toplevel
  # Coverage is of the project's code (TensorFlow's kernels are not
  # instrumented): the header parser, the codecs, each system's decoder.
  with atheris.instrument_imports(
      include=["bls2017", "cae_admm", "content_weighted"]):
    import bls2017.paper.codec  # pylint: disable=import-outside-toplevel,unused-import
    import cae_admm.codec  # pylint: disable=import-outside-toplevel,unused-import
    import content_weighted.codec  # pylint: disable=import-outside-toplevel,unused-import
    from bls2017 import conformance  # pylint: disable=import-outside-toplevel,unused-import
    from bls2017.core import saved_codec  # pylint: disable=import-outside-toplevel,unused-import
  target = make_target(args.max_pixels, args.counts)
  atheris.Setup([sys.argv[0]] + libfuzzer_args, target)
  atheris.Fuzz()


def _seed_corpus(directory):
  """The conformance files, each behind a flag byte of 0."""
  from bls2017 import conformance  # pylint: disable=import-outside-toplevel
  for name in sorted(os.listdir(conformance.DIRECTORY)):
    if name.endswith(".tfci"):
      with open(os.path.join(conformance.DIRECTORY, name), "rb") as f:
        data = f.read()
      with open(os.path.join(directory, name), "wb") as f:
        f.write(b"\0" + data)


# libFuzzer's final lines: "stat::number_of_executed_units: 20000", and
# its status lines: "#20000 DONE cov: 1234 ft: 2345 ...".
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.MULTILINE)
_COVERAGE = re.compile(r"cov: (\d+) ft: (\d+)")


def run(runs, output, timeout=10, max_pixels=4096, rss_limit_mb=4096,
        log=print):
  """Fuzzes for `runs` executions in a child process; writes the figures
  to `output` (and returns them)."""
  from bls2017.core import images, timing  # pylint: disable=import-outside-toplevel
  with tempfile.TemporaryDirectory() as work:
    corpus, artifacts = (os.path.join(work, d) for d in ("corpus", "found"))
    os.makedirs(corpus)
    os.makedirs(artifacts)
    _seed_corpus(corpus)
    counts = os.path.join(work, "outcomes.json")
    command = [sys.executable, "-m", "bls2017.fuzz", "--child",
               "--max_pixels", str(max_pixels), "--counts", counts, "--",
               f"-runs={runs}",
               f"-timeout={timeout}", f"-rss_limit_mb={rss_limit_mb}",
               "-print_final_stats=1", f"-artifact_prefix={artifacts}/",
               corpus]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.time()
    result = subprocess.run(command, capture_output=True, text=True,
                            env=env, check=False)
    seconds = time.time() - start
    outcomes = (json.load(open(counts)) if os.path.exists(counts) else {})
    found = sorted(os.listdir(artifacts))
    if found:  # Kept beside the output, to reproduce and to test.
      kept = os.path.splitext(output)[0] + "_found"
      shutil.copytree(artifacts, kept, dirs_exist_ok=True)
  stats = {k: int(v) for k, v in _STAT.findall(result.stderr)}
  coverage = _COVERAGE.findall(result.stderr)
  figures = {
      "runs_asked": runs, "executions": stats.get("number_of_executed_units"),
      "wall_seconds": round(seconds, 1),
      "executions_per_second": stats.get("average_exec_per_sec"),
      "coverage_edges": int(coverage[-1][0]) if coverage else None,
      "coverage_features": int(coverage[-1][1]) if coverage else None,
      "outcomes_of_the_first_inputs": outcomes,
      "crashes": len([f for f in found if f.startswith("crash-")]),
      "hangs": len([f for f in found if f.startswith("timeout-")]),
      "slowest_input_seconds": stats.get("slowest_unit_time_sec"),
      "peak_memory_mib": stats.get("peak_rss_mb"),
      "exit_status": result.returncode, "artifacts": found,
      "timeout_seconds": timeout, "max_pixels_decoded": max_pixels,
      "machine": timing.machine()}
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  images.write_json(output, figures)
  if result.returncode:
    log(result.stderr[-3000:])
  log(json.dumps({k: v for k, v in figures.items() if k != "machine"}))
  return figures


def main(argv):
  parser = argparse_flags.ArgumentParser(
      description=__doc__.split("\n")[0])
  parser.add_argument("--runs", type=int, default=20000,
                      help="Executions (libFuzzer's -runs).")
  parser.add_argument("--output", default="fuzz.json",
                      help="JSON file for the run's figures.")
  parser.add_argument("--timeout", type=int, default=10,
                      help="Seconds after which one input is a hang.")
  parser.add_argument("--max_pixels", type=int, default=4096,
                      help="Largest image a header may promise and still "
                      "be decoded.")
  parser.add_argument("--child", action="store_true",
                      help=argparse_flags.argparse.SUPPRESS)
  parser.add_argument("--counts", default=None,
                      help=argparse_flags.argparse.SUPPRESS)
  if "--" in argv:
    split = argv.index("--")
    argv, libfuzzer_args = argv[:split], argv[split + 1:]
  else:
    libfuzzer_args = []
  args = parser.parse_args(argv[1:])
  if args.child:
    _child(args, libfuzzer_args)
    return
  figures = run(args.runs, args.output, args.timeout, args.max_pixels)
  raise SystemExit(1 if figures["crashes"] or figures["hangs"] else 0)


if __name__ == "__main__":
  main(sys.argv)

"""Decoder against hostile input: mutated, truncated, extended, spliced.

Every case must end in a correct-shape image or a BitstreamError — never
another exception. Half the cases recompute the integrity check after
mutating the payload, so that the range decoder itself sees garbage.

The suite runs 300 cases; a long run sets the count, and can write the
table of outcomes (mutation kind x result) as JSON:
    BLS2017_FUZZ_EXAMPLES=10000 BLS2017_FUZZ_REPORT=fuzz.json \
        pytest tests/core/test_fuzz.py -s
Each case is bounded in time by hypothesis' deadline.
"""

import collections
import datetime
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bls2017.core import bitstream, codec, timing
from helpers.synthetic import synthetic_image


OUTCOMES = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def outcome_table():
  yield
  rows = sorted(OUTCOMES.items())
  print(f"\n{sum(OUTCOMES.values())} fuzz cases:")
  for (kind, outcome), count in rows:
    print(f"  {kind:<10}{outcome:<28}{count:>7}")
  if os.environ.get("BLS2017_FUZZ_REPORT"):
    with open(os.environ["BLS2017_FUZZ_REPORT"], "w") as f:
      json.dump({"machine": timing.machine(),
                 "rows": [{"mutation": k, "outcome": o, "cases": n}
                          for (k, o), n in rows]}, f, indent=2)


@pytest.fixture(scope="module")
def codecs(rgb_model_path, gray_model_path):
  return [codec.load(rgb_model_path), codec.load(gray_model_path)]


@pytest.fixture(scope="module")
def streams(codecs):
  sizes = [(16, 16), (33, 47), (64, 40)]
  return [(c, c.compress(synthetic_image(h, w, c.channels)))
          for c in codecs for h, w in sizes]


def _mutate(data, other, kind, position, value, length):
  position %= max(len(data), 1)
  if kind == "flip":
    mutated = bytearray(data)
    mutated[position] ^= value or 1
    return bytes(mutated)
  if kind == "truncate":
    return data[:position]
  if kind == "extend":
    return data + bytes([value]) * length
  if kind == "splice":
    return data[:position] + other[position % max(len(other), 1):]
  return data[:position] + bytes([value]) * length + data[position + length:]


def _resign(data):
  """Recomputes the integrity check, keeping the header as mutated."""
  if len(data) < bitstream.HEADER_BYTES:
    return data
  fields, payload = data[:12], data[bitstream.HEADER_BYTES:]
  return fields + bitstream.checksum(fields + payload) + payload


@settings(max_examples=int(os.environ.get("BLS2017_FUZZ_EXAMPLES", 300)),
          deadline=datetime.timedelta(seconds=30),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 5), other=st.integers(0, 5),
       kind=st.sampled_from(["flip", "truncate", "extend", "splice",
                             "overwrite"]),
       position=st.integers(0, 10 ** 6), value=st.integers(0, 255),
       length=st.integers(1, 64), resign=st.booleans(),
       payload_only=st.booleans())
def test_mutated_bitstreams(streams, index, other, kind, position, value,
                            length, resign, payload_only):
  model, data = streams[index]
  if payload_only:  # Keep the header intact; hit the payload.
    position = bitstream.HEADER_BYTES + position % max(
        len(data) - bitstream.HEADER_BYTES, 1)
  mutated = _mutate(data, streams[other][1], kind, position, value, length)
  if resign:
    mutated = _resign(mutated)
  try:
    x_hat = model.decompress(mutated)
  except bitstream.BitstreamError as e:
    OUTCOMES[kind, type(e).__name__] += 1
    return
  # Without a re-signed check, only a valid bitstream may decode (a splice
  # can rebuild one whole): the integrity check catches every change.
  assert resign or mutated in {stream for _, stream in streams}, (
      f"a {kind} mutation passed the integrity check")
  header, _ = bitstream.unpack(mutated)
  assert x_hat.shape == (header.height, header.width, model.channels)
  assert x_hat.dtype == np.uint8
  OUTCOMES[kind, "decoded" if mutated != data else "decoded (unchanged)"] += 1


FINDINGS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "fuzz_findings")


@pytest.mark.slow
def test_what_coverage_guided_fuzzing_found_is_refused():
  """Every input atheris made fail (`python -m bls2017.fuzz`), kept in
  tests/core/fuzz_findings, now decodes or is refused with a
  BitstreamError through the fuzz target."""
  from bls2017 import fuzz  # pylint: disable=import-outside-toplevel
  target = fuzz.make_target(max_pixels=4096)
  for name in sorted(os.listdir(FINDINGS)):
    with open(os.path.join(FINDINGS, name), "rb") as f:
      target(f.read())  # Raises on anything else.


@pytest.mark.slow
def test_a_short_coverage_guided_run_finds_nothing(tmp_path):
  """20,000 executions of the atheris target (the fuzz extra; CI has it)."""
  from helpers.optional import import_or_skip  # pylint: disable=import-outside-toplevel
  import_or_skip("atheris", "fuzz")
  from bls2017 import fuzz  # pylint: disable=import-outside-toplevel
  figures = fuzz.run(20000, str(tmp_path / "fuzz.json"),
                     log=lambda *_: None)
  assert figures["executions"] == 20000, figures
  assert (figures["crashes"], figures["hangs"]) == (0, 0), figures[
      "artifacts"]

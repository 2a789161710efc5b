"""The benchmarks' one timer and the flags that set it, in plain Python
(the JAX side uses it too)."""

import statistics
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

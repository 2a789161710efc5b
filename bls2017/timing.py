"""The benchmarks' one timer, in plain Python (the JAX side uses it too)."""

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

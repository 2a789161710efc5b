"""Encode in one process, decode in another, under different TF settings."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bls2017 import zoo
from helpers.synthetic import integer_image
from helpers.commands import ROOT

pytestmark = pytest.mark.slow


SCRIPT = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    import tensorflow as tf
    threads = int(sys.argv[1])
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from bls2017.core import codec, model_file
    from bls2017 import zoo  # pylint: disable=import-outside-toplevel
    for name in zoo.catalog():
      c = codec.load(name)
      # Tables recomputed here from the weights, against the stored ones.
      tables = c.model.coding_tables()
      print(name, "tables", all(np.array_equal(tables[k], c.loaded.tables[k])
                                for k in tables))
      image = np.load(sys.argv[2])
      data = c.compress(image if c.channels == 3 else image[..., :1])
      reference = open(sys.argv[3] + name, "rb").read() if len(sys.argv) > 4 \\
          else data
      if len(sys.argv) <= 4:
        open(sys.argv[3] + name, "wb").write(data)
      decoded = c.decompress(reference)
      print(name, hashlib.sha256(data).hexdigest(),
            hashlib.sha256(decoded.tobytes()).hexdigest())
""")


def _run(threads, onednn, image, prefix, decode_reference=False):
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3",
             TF_ENABLE_ONEDNN_OPTS=str(onednn))
  argv = [sys.executable, "-c", SCRIPT, str(threads), image, prefix]
  if decode_reference:
    argv.append("decode")
  # The timeout only guards against hangs; on shared cores a run of every
  # zoo model in one thread can take minutes.
  result = subprocess.run(argv, capture_output=True, text=True, env=env,
                          timeout=900)
  assert result.returncode == 0, result.stderr
  return sorted(result.stdout.split("\n"))


def test_bit_exact_across_processes_threads_and_onednn(tmp_path):
  image = str(tmp_path / "x.npy")
  np.save(image, integer_image(72, 100))
  prefix = str(tmp_path / "ref_")
  reference = _run(1, 1, image, prefix)
  assert len([line for line in reference if line]) == 2 * len(zoo.catalog())
  assert sum(line.endswith("tables True") for line in reference) == len(
      zoo.catalog())
  for threads, onednn in ((2, 1), (1, 0), (2, 0)):
    # Encodes again and decodes the reference process's bitstreams.
    assert _run(threads, onednn, image, prefix, True) == reference, (
        threads, onednn)

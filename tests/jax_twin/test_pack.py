"""Training-set parts for a limited upload, and the patches both trainers
draw."""

import json
import os
import tarfile

import numpy as np
from PIL import Image

from bls2017.core import patches
from bls2017.jax_twin import pack
from helpers.synthetic import synthetic_image


def test_parts_rebuild_the_set_within_the_limit(tmp_path):
  source = tmp_path / "photos"
  for k, side in enumerate([40, 64, 48, 90, 32]):
    directory = source / ("a" if k % 2 else "b")
    directory.mkdir(parents=True, exist_ok=True)
    Image.fromarray(synthetic_image(side, side)).save(directory / f"{k}.png")
  limit_mib = 0.02
  manifest = pack.pack(str(source / "**" / "*.png"), str(tmp_path / "out"),
                       limit_mib)
  assert manifest["files"] == 5 and len(manifest["parts"]) > 1
  with open(tmp_path / "out" / "manifest.json") as f:
    assert json.load(f) == manifest
  rebuilt = tmp_path / "rebuilt"
  for part in manifest["parts"]:
    path = tmp_path / "out" / part["part"]
    with tarfile.open(path) as tar:
      members = tar.getmembers()
      tar.extractall(rebuilt)
    # Over the limit only when one image alone is bigger than it.
    assert (os.path.getsize(path) <= limit_mib * 2 ** 20 or
            len(members) == 1)
  originals = sorted(p.relative_to(source) for p in source.rglob("*.png"))
  assert sorted(p.relative_to(rebuilt) for p in rebuilt.rglob("*.png")) == (
      originals)
  for name in originals:
    assert (rebuilt / name).read_bytes() == (source / name).read_bytes()


def test_batches_are_a_function_of_seed_and_step():
  arrays = [synthetic_image(40, 50), synthetic_image(64, 36)]
  weights = patches.area_weights(arrays)
  first = patches.batch_at(arrays, weights, 32, 4, seed=3, step=7)
  again = patches.batch_at(arrays, weights, 32, 4, seed=3, step=7)
  other = patches.batch_at(arrays, weights, 32, 4, seed=3, step=8)
  np.testing.assert_array_equal(first, again)
  assert first.shape == (4, 32, 32, 3) and not np.array_equal(first, other)
  # Every patch is a crop of one image, possibly mirrored.
  for patch in first:
    assert any(_is_crop(patch, a) or _is_crop(patch[:, ::-1], a)
               for a in arrays)


def _is_crop(patch, array):
  size = patch.shape[0]
  return any(np.array_equal(patch, array[i:i + size, j:j + size])
             for i in range(array.shape[0] - size + 1)
             for j in range(array.shape[1] - size + 1))

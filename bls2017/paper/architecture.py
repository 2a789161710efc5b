"""What fixes a bls2017 model's shape, in plain Python.

Shared by the Keras model (`bls2017.paper.model`) and its JAX twin
(`bls2017.jax_twin`), which must agree on it and which run where the
other's framework may be missing.
"""

import dataclasses

# Total downsampling of g_a (4 * 2 * 2): y has 1/16 of x's rows and columns.
STRIDE = 16


def default_filters(channels):
  """The paper's widths (section 3): 192 filters for RGB, 128 for gray."""
  return 192 if channels == 3 else 128


@dataclasses.dataclass(frozen=True)
class Architecture:
  """Filters per layer and image channels: all a model's shapes follow
  (and GDN's form, `train_config.GDN_FORMS`, which has no shape)."""
  num_filters: int
  channels: int
  gdn: str = "simplified"

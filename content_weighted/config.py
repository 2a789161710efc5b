"""`content_weighted train`'s Config (TensorFlow-free; see `bls2017.paper.config`)."""

import dataclasses

from bls2017.core.train_config import KerasTrainConfig


@dataclasses.dataclass
class Config(KerasTrainConfig):
  """A `content_weighted train` run (the flags of the same names)."""
  model_path: str = "content_weighted.npz"
  patchsize: int = 128
  lmbda: float = 0.01
  importance_map: bool = True
  mask_gradient: str = "band"  # One of content_weighted.MASK_GRADIENTS.
  relaxed_fraction: float = 0.0  # First share of steps on the relaxed mask.
  transform: str = "gdn"  # One of content_weighted.TRANSFORMS.
  map_model: str = "factorized"  # One of content_weighted.MAP_MODELS.
  num_filters: int = 64
  code_channels: int = 32
  groups: int = 16
  num_levels: int = 8

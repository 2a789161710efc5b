"""`bls2017 train`'s configuration: the one place its defaults are stated
(the command's flags read theirs from here). Plain Python, no TensorFlow:
`--help` is built from it before TensorFlow loads."""

import dataclasses
from typing import Optional

from bls2017.core.train_config import KerasTrainConfig
from bls2017.paper.architecture import default_filters


@dataclasses.dataclass
class Config(KerasTrainConfig):
  """One model of the paper at `lmbda` (the flags of the same names)."""
  model_path: str = "bls2017.npz"
  lmbda: float = 0.01
  num_filters: Optional[int] = None  # None: default_filters(channels).
  gdn: str = "simplified"  # One of train_config.GDN_FORMS.

  def __post_init__(self):
    super().__post_init__()
    if self.num_filters is None:
      self.num_filters = default_filters(self.channels)

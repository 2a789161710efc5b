"""Content-weighted image compression: importance map + context model.

M. Li, W. Zuo, S. Gu, D. Zhao, D. Zhang: "Learning Convolutional Networks
for Content-weighted Image Compression", CVPR 2018,
https://arxiv.org/abs/1703.10553; and M. Li, W. Zuo, S. Gu, J. You,
D. Zhang: "Learning Content-Weighted Deep Image Compression", IEEE TPAMI
2021, https://arxiv.org/abs/1904.00664 (multi-valued quantization,
trimmed convolutional context model with parallel decoding).
"""

from bls2017.core import systems

SYSTEM = systems.register(systems.System(
    name="content_weighted", magic=b"CW", description="Li et al. 2018 "
    "(importance map + context model)", opener="content_weighted.codec:load",
    model="content_weighted.model:ContentWeightedModel",
    # 2: each plane's CDFs from its causal windows (`planes`).
    format_version=2, past_versions={1: "a30e6d0"}))

# The importance map's straight-through gradients (`importance.py`); here,
# free of TensorFlow, for the command's flags.
MASK_GRADIENTS = ("band", "last_group")
# The encoder/decoder pairs (`model.TRANSFORMS`), for the same reason.
TRANSFORMS = ("gdn", "dense")
# How the importance map is coded (`model.ContentWeightedModel`): fitted
# factorized tables, or the context model with the map as its first slice.
MAP_MODELS = ("factorized", "context")

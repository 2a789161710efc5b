"""The paper's model: Ballé, Laparra & Simoncelli, "End-to-end optimized
image compression", ICLR 2017 (https://arxiv.org/abs/1611.01704).

    architecture  STRIDE and widths, shared with the JAX twin (plain Python)
    model         g_a, g_s (GDN/IGDN), the factorized prior, R + lambda * D
    codec         g_a/g_s around ONE range coder: the system's Codec
    config        `bls2017 train`'s Config: every flag's default (plain
                  Python)
    train         `bls2017 train` on the one training outline
    relaxed_vs_real  the paper's figure 4 check

Registered like every other system (`bls2017.core.systems`): the shared
machinery finds it by name ("bls2017") or by magic bytes ("BL").
"""

from bls2017.core import systems
from bls2017.paper.config import Config  # noqa: F401  (paper.Config)

SYSTEM = systems.register(systems.System(
    name="bls2017", magic=b"BL", description="Balle et al. 2017",
    opener="bls2017.paper.codec:open_model_file",
    model="bls2017.paper.model:BLS2017Model",
    catalog="bls2017.zoo:CATALOG", unnamed_model_files=True))

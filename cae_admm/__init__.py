"""CAE-ADMM: a compressive autoencoder whose rate is set by ADMM pruning.

H. Zhao, P. Liao: "CAE-ADMM: Implicit Bitrate Optimization via ADMM-based
Pruning in Compressive Autoencoders", 2019. https://arxiv.org/abs/1901.07196
"""

from bls2017.core import systems

# What of ADMM trains (`cae_admm train --admm`; see model.CAEADMMModel).
ADMM_MODES = ("full", "no_dual", "off")

SYSTEM = systems.register(systems.System(
    name="cae_admm", magic=b"CA", description="Zhao and Liao 2019 (ADMM "
    "pruning)", opener="cae_admm.codec:load",
    model="cae_admm.model:CAEADMMModel"))

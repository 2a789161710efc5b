"""End-to-end optimized image compression (Balle, Laparra, Simoncelli, ICLR
2017) on TensorFlow Compression, and the machinery every system of this
project shares (bitstream, model file, codec, training, evaluation)."""

from bls2017 import systems

# The paper's codec, registered like every other system (`bls2017.systems`).
SYSTEM = systems.register(systems.System(
    name="bls2017", magic=b"BL", description="Balle et al. 2017",
    opener="bls2017.codec:open_model_file"))

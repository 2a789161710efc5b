"""Installs the bls2017 codec, the related systems cae_admm and
content_weighted, and the mnist_demo tutorial package."""

from setuptools import find_packages, setup

# Pins: TFC 2.14 is built against TF 2.14 exactly and works only with the
# Keras 2 that TF 2.14 ships; see BUILD_NOTES.md for why each pin is there.
INSTALL_REQUIRES = [
    "tensorflow>=2.14.1,<2.15",
    "tensorflow-compression>=2.14.1,<2.15",
    "tensorflow-probability>=0.22,<0.23",
    "keras>=2.14,<2.15",
    "tensorflow-datasets>=4.9,<4.10",
    "tensorflow-metadata<1.15",
    "importlib_resources",
    "protobuf<4.21",
    "numpy>=1.23.5,<2",
    "scipy>=1.11,<1.12",
    "matplotlib>=3.7",
    "absl-py>=1.0",
    "Pillow>=10.1",
    "bjontegaard>=1.2",
    "tqdm",
    # A range coder that decodes one symbol at a time (content_weighted.sequential).
    "constriction>=0.4",
]

EXTRAS_REQUIRE = {
    "test": ["pytest>=7", "pytest-xdist>=3", "hypothesis>=6", "nbclient>=0.9",
             "ipykernel"],
    # The JAX trainer (bls2017.jax_twin). The newest JAX set that resolves
    # beside TF 2.14 (numpy < 2, ml-dtypes 0.2); the same code runs on newer
    # JAX on an accelerator machine.
    "accel": ["jax==0.4.34", "jaxlib==0.4.34", "optax==0.2.4",
              "chex==0.1.87"],
    # Coverage-guided fuzzing of the decoders (python -m bls2017.fuzz).
    "fuzz": ["atheris>=2.3"],
}

setup(
    name="bls2017",
    version="0.1.0",
    description="End-to-end optimized image compression (Balle, Laparra & "
    "Simoncelli, ICLR 2017) on TensorFlow Compression.",
    packages=find_packages(include=["bls2017", "bls2017.*", "mnist_demo",
                                    "mnist_demo.*", "cae_admm",
                                    "content_weighted"]),
    package_data={"bls2017.zoo": ["*.npz", "*.json"]},
    python_requires=">=3.10,<3.12",
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": [
        "bls2017=bls2017.cli:run", "mnist_demo=mnist_demo.cli:run",
        "cae_admm=cae_admm.cli:run",
        "content_weighted=content_weighted.cli:run"],
        # Each system registers its codec (bls2017.core.systems).
        "bls2017.systems": [
            "bls2017=bls2017.paper:SYSTEM", "cae_admm=cae_admm:SYSTEM",
            "content_weighted=content_weighted:SYSTEM"]},
)

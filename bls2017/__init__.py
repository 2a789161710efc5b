"""End-to-end optimized image compression (Balle, Laparra, Simoncelli, ICLR
2017) on TensorFlow Compression.

    bls2017/core/      the shared machinery every system stands on: bitstream,
                       model file, codec, training loop, evaluation, commands;
                       it names no system (systems register themselves)
    bls2017/paper/     the paper's model, registered as system "bls2017"
    bls2017/zoo/       the shipped models (catalog and model files)
    bls2017/jax_twin/  the paper's training graph in JAX, for accelerators
    bls2017/cli.py     the `bls2017` command

The related systems (`cae_admm`, `content_weighted`) and the MNIST tutorial
(`mnist_demo`) are packages of their own on `bls2017.core`.
"""

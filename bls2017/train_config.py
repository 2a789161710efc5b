"""Choices that configure a `bls2017 train` run, importable without
TensorFlow: the command's `--help` is built from them before TensorFlow
loads."""

# tf.distribute strategies `bls2017.train.distribution_strategy` builds.
STRATEGIES = ("one_device", "mirrored", "multi_worker")
LR_SCHEDULES = ("constant", "cosine")

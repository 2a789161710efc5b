"""A JAX twin of bls2017's training graph, to train on accelerators.

The Keras model (`bls2017.paper.model.BLS2017Model`) stays the one definition of
the codec: it codes, ships and exports. This package reproduces only what
training needs -- g_a, g_s, GDN/IGDN, the NoisyDeepFactorized prior and the
relaxed rate of `tfc.ContinuousBatchedEntropyModel(compression=False)` --
with the same variables in the same parameterizations, so that a trained
state moves between the two by variable name:

    model file (.npz) --params_io.read--> params {name: array}
        --train (JAX, any accelerator; vmap over a ladder of lambdas)-->
    weights file (.weights.npz, no tables) --`bls2017 finalize` (TF)-->
    model file with range-coding tables and fingerprint

It imports neither TensorFlow nor anything that does, so it runs on a
machine that has only JAX, optax, NumPy and Pillow.

  layers     RDFT kernels, down/up SignalConv2D, GDN/IGDN, lower_bound
  prior      deep factorized density convolved with U(-1/2, 1/2); bits
  model      variable layout, initialisation, forward pass and loss
  params_io  model files <-> params
  train      the ladder trainer (checkpoints, resume, sharding)
  pack       splits a training set into parts for a limited upload
"""

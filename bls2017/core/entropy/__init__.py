"""Entropy models: how a codec's latents become a payload and back.

    LatentEncoder (core.codec):  y --coder.encode--> payload (scalar string)
    LatentDecoder (core.codec):  payload, latent [h, w] --coder.decode-->
                                 y_hat [1, h, w, C]

    factorized  one density per latent channel, coded with range-coding
                tables built once and stored in the model file: the
                paper's learned prior (`coding_tables`), or tables fitted
                after training (`empirical`); `FactorizedCoder` codes with
                either
    empirical   factorized tables fitted to observed integer symbols (the
                related systems: CAE-ADMM, content-weighted)

An entropy coder is anything with the `EntropyCoder` pair. A second kind
(a hyperprior, say) is one module here and a system whose codec hands it
to the latent coders; `tests/core/test_entropy.py` builds one, as the
fourth-system test does for systems. The JAX twin's copy of the paper's
prior (`bls2017.jax_twin.prior`) reproduces TFC's training rate only.
"""

from typing import Protocol, runtime_checkable


@runtime_checkable
class EntropyCoder(Protocol):
  """What the latent coders need of an entropy model (in graph code)."""

  def encode(self, y):
    """Latents y [1, h, w, C] float32 -> payload, a scalar tf.string."""

  def decode(self, payload, latent_shape):
    """Payload, (h, w) -> y_hat [1, h, w, C] float32."""

"""Factorized range-coding tables fitted to observed integer symbols.

The related systems (`cae_admm`, `content_weighted`) train without a
density for some of the integers they transmit. After training, a
factorized model -- one probability mass function per channel -- is fitted
to those integers on training patches: the maximum-likelihood PMF is the
histogram, smoothed so that every value in the observed range and the
escape symbol keep a non-zero probability. The tables have the layout of
`tfc.ContinuousBatchedEntropyModel` (`cdf`, `cdf_offset`), so that model
range-codes with them, including its escape code for values outside the
fitted range; `factorized.FactorizedCoder` codes latents with them.
"""

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

PRECISION = 16


def fit(symbols, smoothing=0.5):
  """{"cdf", "cdf_offset"} for integer `symbols` [..., channels].

  `symbols` may also be a list with one 1-D array per channel.
  smoothing: pseudo-count added to every value in a channel's observed
  range and to its escape symbol.
  """
  if isinstance(symbols, list):
    columns = [np.rint(c).astype(np.int64) for c in symbols]
  else:
    symbols = np.asarray(symbols)
    columns = np.rint(symbols).astype(np.int64).reshape(
        -1, symbols.shape[-1]).T
  cdfs, offsets = [], []
  for column in columns:
    column = column if column.size else np.zeros(1, np.int64)
    low, high = int(column.min()), int(column.max())
    counts = np.bincount(column - low, minlength=high - low + 1)
    counts = np.append(counts, 0) + smoothing  # Last: the escape symbol.
    pmf = tf.constant(counts / counts.sum(), tf.float32)
    cdf = tfc.pmf_to_quantized_cdf(pmf, precision=PRECISION).numpy()
    # A negative precision enables the escape code (see create_range_encoder).
    cdfs.append(np.concatenate([[-PRECISION], cdf]))
    offsets.append(low)
  return {"cdf": np.concatenate(cdfs).astype(np.int32),
          "cdf_offset": np.array(offsets, np.int32)}


def entropy_model(tables, channels, coding_rank):
  """The TFC entropy model that codes integers [..., channels] with tables.

  The symbols are integers already, so the quantization offset is zero.
  """
  return tfc.ContinuousBatchedEntropyModel(
      prior_shape=(channels,), coding_rank=coding_rank, compression=True,
      cdf=tables["cdf"], cdf_offset=tables["cdf_offset"],
      quantization_offset=np.zeros(channels, np.float32))


def information_content(tables, symbols, weights=None):
  """-log2 of the tables' probability of integer `symbols` [..., channels].

  Values outside a channel's range are charged the escape symbol only (the
  range coder's Elias-gamma payload for them is not counted). weights (0/1,
  shaped like symbols) leave out the symbols that are not coded.
  """
  symbols = np.asarray(symbols)
  weights = np.ones(symbols.shape) if weights is None else np.asarray(weights)
  channels = symbols.shape[-1]
  cdf, offsets = tables["cdf"], tables["cdf_offset"]
  starts = np.flatnonzero(cdf < 0)
  bits = 0.0
  for c in range(channels):
    end = starts[c + 1] if c + 1 < channels else len(cdf)
    table = cdf[starts[c] + 1:end].astype(np.float64)
    pmf = np.diff(table) / 2 ** PRECISION
    index = symbols[..., c].astype(np.int64) - offsets[c]
    escaped = (index < 0) | (index >= len(pmf) - 1)
    index = np.where(escaped, len(pmf) - 1, index)
    bits += -(np.log2(pmf[index]) * weights[..., c]).sum()
  return float(bits)

"""Content-weighted compression as a real codec.

    Compressor:   x --pad--> g_a --> codes, importance levels k
                  k: range-coded with factorized tables fitted after training
                  codes: plane by plane (t = c + i + j), each plane's kept
                  codes range-coded with the context model's per-code CDFs
    Decompressor: k --> mask; for t = 0 .. T-1: context model on plane t's
                  causal windows of the codes decoded so far --> CDFs of
                  plane t --> decode plane t; then
                  g_s(dequantized codes * mask) --crop--> x_hat

Both sides run the same plane loop (`planes.PlaneCoder`), so they evaluate
the context model on identical inputs and build identical integer CDFs.

Payload (after bls2017's 16-byte header with magic "CW" and format version
2): 4-byte length of the importance-map string, that string, T 2-byte
lengths of the plane strings, then the plane strings (all big-endian).
Version 1 had the same layout but took each plane's CDFs from a context-
model pass over the whole volume, whose floats can differ in the last bits
from the windows', so its files are refused rather than misread.
"""

import functools

import numpy as np
import tensorflow as tf

from bls2017.core import bitstream, empirical_prior, images, model_file
from bls2017.core import codec as shared_codec
from content_weighted import SYSTEM, context, planes
from content_weighted.model import STRIDE, ContentWeightedModel

MAGIC = SYSTEM.magic
MAX_PLANE_BYTES = 65535


def fitted_tables(model, patches):
  """Factorized tables for the importance levels and (for the ablation) the
  kept codes, fitted on `patches`."""
  levels, codes = [], [[] for _ in range(model.code_channels)]
  for batch in patches:
    e, p = model.analyse(tf.cast(batch, tf.float32))
    k = model.importance_levels(p)
    c, m = model.quantizer.indices(e).numpy(), model.mask(k).numpy()
    levels.append(k.numpy().reshape(-1, 1))
    for channel in range(model.code_channels):
      codes[channel].append(c[..., channel][m[..., channel] > 0])
  map_tables = empirical_prior.fit(np.concatenate(levels))
  code_tables = empirical_prior.fit([np.concatenate(c) for c in codes])
  return {"map_cdf": map_tables["cdf"],
          "map_cdf_offset": map_tables["cdf_offset"],
          "code_cdf": code_tables["cdf"],
          "code_cdf_offset": code_tables["cdf_offset"]}


def _map_tables(tables):
  return {"cdf": tables["map_cdf"], "cdf_offset": tables["map_cdf_offset"]}


def _code_tables(tables):
  return {"cdf": tables["code_cdf"], "cdf_offset": tables["code_cdf_offset"]}


def _uint(values, width):
  """In-graph big-endian bytes of non-negative int32 `values`."""
  shifts = tf.range(width - 1, -1, -1) * 8
  return bitstream.tf_bytes(tf.reshape(
      tf.bitwise.right_shift(values[:, None], shifts) % 256, [-1]))


def _read_uint(data, offset, width, count=1):
  raw = tf.io.decode_raw(tf.strings.substr(data, offset, width * count),
                         tf.uint8)
  raw = tf.reshape(tf.cast(raw, tf.int32), [count, width])
  return tf.reduce_sum(
      tf.bitwise.left_shift(raw, tf.range(width - 1, -1, -1) * 8), -1)


class CodesEncoder(tf.Module):
  """Padded x [1, H, W, C] float32 -> payload: the importance map under
  its factorized tables, then the kept codes plane by plane."""

  def __init__(self, model, map_model):
    super().__init__(name="codes_encoder")
    self.model = model
    self.map_model = map_model
    self.coder = planes.PlaneCoder(model.context_model, model.num_levels)

  def __call__(self, x):
    e, p = self.model.analyse(x)
    k = self.model.importance_levels(p)[0]
    codes = self.model.quantizer.indices(e)[0]
    map_string = self.map_model.compress(tf.cast(k, tf.float32))
    strings = self.coder.encode(codes, self.model.mask(k))
    lengths = tf.strings.length(strings)
    tf.debugging.Assert(tf.reduce_all(lengths <= MAX_PLANE_BYTES),
                        ["a plane exceeds 65535 bytes"])
    return (_uint(tf.strings.length(map_string)[None], 4) + map_string +
            _uint(lengths, 2) + tf.strings.reduce_join(strings))


class CodesDecoder(tf.Module):
  """Payload, code grid [h, w] -> x_hat [1, H, W, C]: the importance map,
  then plane by plane the codes, then g_s."""

  def __init__(self, model, map_model):
    super().__init__(name="codes_decoder")
    self.model = model
    self.map_model = map_model
    self.coder = planes.PlaneCoder(model.context_model, model.num_levels)

  def __call__(self, payload, latent_shape):
    h, w = latent_shape
    count = h + w + self.model.code_channels - 2
    map_bytes = _read_uint(payload, 0, 4)[0]
    map_string = tf.strings.substr(payload, 4, map_bytes)
    lengths = _read_uint(payload, 4 + map_bytes, 2, count)
    starts = 4 + map_bytes + 2 * count + tf.cumsum(lengths, exclusive=True)
    tf.debugging.Assert(
        tf.strings.length(payload) == 4 + map_bytes + 2 * count +
        tf.reduce_sum(lengths), ["payload length does not match"])
    strings = tf.strings.substr(tf.fill([count], payload), starts, lengths)
    k = tf.cast(self.map_model.decompress(map_string, (h, w)), tf.int32)
    codes = self.coder.decode(strings, self.model.mask(k))
    return self.model.synthesize(codes[None], k[None])


class Codec(shared_codec.Codec):
  """A loaded content-weighted model file as a codec."""

  system = SYSTEM
  # The plane coder's tables (positions, ranks, the mask's share) span the
  # whole code volume.
  max_pixels = images.MAX_PIXELS // 16

  def make_codec(self, loaded):
    model = loaded.model
    # coding_rank 3 on k [h, w, 1]: one string for the whole map.
    map_model = empirical_prior.entropy_model(
        _map_tables(loaded.tables), 1, coding_rank=3)
    return (
        shared_codec.Compressor(CodesEncoder(model, map_model),
                                 model.channels, loaded.fingerprint, STRIDE,
                                 MAGIC),
        shared_codec.Decompressor(CodesDecoder(model, map_model),
                                   model.channels, loaded.fingerprint, STRIDE,
                                   MAGIC))

  def codes(self, x):
    """(codes [h, w, C], importance levels k [h, w, 1], mask [h, w, C])."""
    x = shared_codec.pad_to_stride(tf.cast(x, tf.float32), STRIDE)[None]
    e, p = self.model.analyse(x)
    k = self.model.importance_levels(p)
    return (self.model.quantizer.indices(e)[0], k[0],
            self.model.mask(k)[0])

  def factorized_strings(self, x):
    """(kept codes, map string, codes string) with the codes range-coded
    under the per-channel factorized tables instead of the context model:
    the ablation's real file, less header and framing."""
    codes, k, mask = self.codes(x)
    where = tf.where(mask > 0)
    symbols = tf.cast(tf.gather_nd(codes, where), tf.int32)
    cdf = tf.gather(self.factorized_cdfs, where[:, 2])
    string = context.range_encode(symbols, cdf)
    map_model = self.compressor.encoder.map_model
    map_string = map_model.compress(tf.cast(k, tf.float32))
    return symbols, map_string.numpy(), string.numpy()

  @functools.cached_property
  def factorized_cdfs(self):
    """[C, Q + 1] CDFs over the code values from the fitted tables; values
    outside a channel's fitted range get its escape probability."""
    tables = _code_tables(self.loaded.tables)
    starts = np.flatnonzero(tables["cdf"] < 0)
    ends = list(starts[1:]) + [len(tables["cdf"])]
    levels = self.model.num_levels
    log_pmfs = []
    for start, end, offset in zip(starts, ends, tables["cdf_offset"]):
      pmf = np.diff(tables["cdf"][start + 1:end].astype(np.float64))
      values = np.arange(levels) - offset
      inside = (values >= 0) & (values < len(pmf) - 1)
      log_pmfs.append(np.log(np.where(
          inside, pmf[np.clip(values, 0, len(pmf) - 1)], pmf[-1])))
    return context.quantized_cdf(tf.constant(np.array(log_pmfs), tf.float32))

  def information_content(self, x, codes_model="context"):
    """Bits: the importance map under its tables plus the kept codes under
    the context model (or, codes_model="factorized", under per-channel
    tables fitted to the same codes: the paper's ablation)."""
    codes, k, mask = self.codes(x)
    bits = empirical_prior.information_content(
        _map_tables(self.loaded.tables), k.numpy())
    if codes_model == "factorized":
      return bits + empirical_prior.information_content(
          _code_tables(self.loaded.tables), codes.numpy(), mask.numpy())
    return bits + float(self.model.context_bits(codes[None], mask[None])[0])


def load(path):
  """Codec for a content-weighted model file; raises ModelFileError."""
  return Codec(model_file.load(path, ContentWeightedModel))

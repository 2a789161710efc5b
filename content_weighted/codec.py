"""Content-weighted compression as a real codec.

    Compressor:   x --pad--> g_a --> codes, importance levels k
                  k: range-coded with factorized tables fitted after training
                  codes: plane by plane (t = c + i + j), each plane's kept
                  codes range-coded with the context model's per-code CDFs
    Decompressor: k --> mask; for t = 0 .. T-1: context model on plane t's
                  causal windows of the codes decoded so far --> CDFs of
                  plane t --> decode plane t; then
                  g_s(dequantized codes * mask) --crop--> x_hat

With map_model="context" the map is slice 0 of the volume instead, coded
in the same planes (`planes.MapPlaneCoder`): plane t holds the levels k of
the cells i + j = t and the codes c + 1 + i + j = t, so each cell's level,
and with it the cell's mask, is decoded before any of the cell's codes.

Both sides run the same plane loop (`planes.PlaneCoder`), so they evaluate
the context model on identical inputs and build identical integer CDFs.

Payload (after bls2017's 16-byte header with magic "CW" and format version
2): 4-byte length of the importance-map string, that string, T 2-byte
lengths of the plane strings, then the plane strings (all big-endian);
with map_model="context" (a model the header's fingerprint names), no map
string or its length, and T = C + h + w - 1 planes, the map's included.
Version 1 had the same layout but took each plane's CDFs from a context-
model pass over the whole volume, whose floats can differ in the last bits
from the windows', so its files are refused rather than misread.
"""

import functools

import numpy as np
import tensorflow as tf

from bls2017.core import bitstream, images, model_file
from bls2017.core.entropy import empirical
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
  map_tables = empirical.fit(np.concatenate(levels))
  code_tables = empirical.fit([np.concatenate(c) for c in codes])
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


def _checked_length(length, room):
  """`length` once it is known to fit in `room` bytes: a corrupt length is
  refused here, before any op reads with it (an op's own error would quote
  the payload's bytes, which are not text)."""
  check = tf.debugging.Assert((length >= 0) & (length <= room),
                              ["a length field exceeds the payload"])
  with tf.control_dependencies([check]):
    return tf.identity(length)


def _planes(strings):
  """T 2-byte lengths, then the plane strings."""
  lengths = tf.strings.length(strings)
  tf.debugging.Assert(tf.reduce_all(lengths <= MAX_PLANE_BYTES),
                      ["a plane exceeds 65535 bytes"])
  return _uint(lengths, 2) + tf.strings.reduce_join(strings)


def _read_planes(payload, offset, count):
  """The `count` plane strings `_planes` wrote from byte `offset` on, which
  must end the payload."""
  lengths = _read_uint(payload, offset, 2, count)
  starts = offset + 2 * count + tf.cumsum(lengths, exclusive=True)
  tf.debugging.Assert(
      tf.strings.length(payload) == offset + 2 * count +
      tf.reduce_sum(lengths), ["payload length does not match"])
  return tf.strings.substr(tf.fill([count], payload), starts, lengths)


class CodesEncoder(tf.Module):
  """Padded x [1, H, W, C] float32 -> payload: the importance map under
  its factorized tables (`map_prior`; None: the map is in the planes),
  then the kept codes plane by plane."""

  def __init__(self, model, map_prior):
    super().__init__(name="codes_encoder")
    self.model = model
    self.map_prior = map_prior
    self.coder = _plane_coder(model)

  def __call__(self, x):
    e, p = self.model.analyse(x)
    k = self.model.importance_levels(p)[0]
    codes = self.model.quantizer.indices(e)[0]
    if self.map_prior is None:
      return _planes(self.coder.encode(codes, k[..., 0]))
    map_string = self.map_prior.compress(tf.cast(k, tf.float32))
    strings = self.coder.encode(codes, self.model.mask(k))
    return (_uint(tf.strings.length(map_string)[None], 4) + map_string +
            _planes(strings))


class CodesDecoder(tf.Module):
  """Payload, code grid [h, w] -> x_hat [1, H, W, C]: the importance map,
  then plane by plane the codes (or both in the planes), then g_s."""

  def __init__(self, model, map_prior):
    super().__init__(name="codes_decoder")
    self.model = model
    self.map_prior = map_prior
    self.coder = _plane_coder(model)

  def latents(self, payload, latent_shape):
    """What the entropy decoder gives back: [codes [h, w, C], importance
    levels k [h, w, 1]]."""
    h, w = latent_shape
    count = h + w + self.model.code_channels - 2
    if self.map_prior is None:
      codes, k = self.coder.decode(
          _read_planes(payload, 0, count + 1),
          tf.stack([h, w, self.model.code_channels]))
      return [codes, k[..., None]]
    map_bytes = _checked_length(_read_uint(payload, 0, 4)[0],
                                tf.strings.length(payload) - 4)
    map_string = tf.strings.substr(payload, 4, map_bytes)
    strings = _read_planes(payload, 4 + map_bytes, count)
    k = tf.cast(self.map_prior.decompress(map_string, (h, w)), tf.int32)
    return [self.coder.decode(strings, self.model.mask(k)), k]

  def __call__(self, payload, latent_shape):
    codes, k = self.latents(payload, latent_shape)
    return self.model.synthesize(codes[None], k[None])


def _plane_coder(model):
  if model.map_head is None:
    return planes.PlaneCoder(model.context_model, model.num_levels)
  return planes.MapPlaneCoder(model.context_model, model.num_levels,
                              model.map_head)


class Codec(shared_codec.Codec):
  """A loaded content-weighted model file as a codec."""

  system = SYSTEM
  # The plane coder's tables (positions, ranks, the mask's share) span the
  # whole code volume.
  max_pixels = images.MAX_PIXELS // 16

  def make_codec(self, loaded):
    model = loaded.model
    map_prior = (self.map_prior if model.map_model == "factorized"
                 else None)
    return (
        shared_codec.Compressor(CodesEncoder(model, map_prior),
                                 model.channels, loaded.fingerprint, STRIDE,
                                 MAGIC),
        shared_codec.Decompressor(CodesDecoder(model, map_prior),
                                   model.channels, loaded.fingerprint, STRIDE,
                                   MAGIC))

  @functools.cached_property
  def map_prior(self):
    """The importance map's factorized entropy model, from the fitted
    tables (coding_rank 3 on k [h, w, 1]: one string for the map). Every
    model file has the tables; the file format uses them when map_model is
    "factorized"."""
    return empirical.entropy_model(_map_tables(self.loaded.tables), 1,
                                         coding_rank=3)

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
    map_string = self.map_prior.compress(tf.cast(k, tf.float32))
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
    """Bits: the importance map under the model the file codes it with
    plus the kept codes under the context model (or, codes_model=
    "factorized", map and codes under per-channel tables fitted to them:
    the paper's ablation)."""
    codes, k, mask = self.codes(x)
    map_bits = self.map_bits(x)
    if codes_model == "factorized":
      return map_bits["factorized"] + empirical.information_content(
          _code_tables(self.loaded.tables), codes.numpy(), mask.numpy())
    code_bits, _ = self.model.context_bits_split(codes[None], mask[None],
                                                 k[None])
    return map_bits[self.model.map_model] + float(code_bits[0])

  def map_bits(self, x):
    """{"factorized": the importance map's bits under its fitted tables,
    and with map_model="context", "context": under the context model}."""
    codes, k, mask = self.codes(x)
    bits = {"factorized": empirical.information_content(
        _map_tables(self.loaded.tables), k.numpy())}
    if self.model.map_head is not None:
      _, map_bits = self.model.context_bits_split(codes[None], mask[None],
                                                  k[None])
      bits["context"] = float(map_bits[0])
    return bits


def load(path):
  """Codec for a content-weighted model file; raises ModelFileError."""
  return Codec(model_file.load(path, ContentWeightedModel))

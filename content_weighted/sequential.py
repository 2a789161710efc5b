"""Code-by-code coding in causal order: the paper's sequential decoding.

The file format (see codec, planes) decodes a whole plane t = c + i + j at
once, with each layer of the context model evaluated on that plane's
windows. Sequential decoding decodes one kept code at a time instead, in
plane order, with one stream for all codes. The logits of the code at p depend
on layer B's 17 allowed offsets around p, and each of those on layer A's 53
allowed offsets: a few hundred inputs of strictly earlier planes, all inside
a 7^3 window.

    for each kept code p, in order of (t, c, i, j):
        window of earlier codes --masked_a (53 taps) x 17--> h1 [17, F]
        h1 --masked_b (17 taps)--> h2 [F] --logits--> softmax --> P(code_p)
        decode code_p with P(code_p); write it into the volume

TFC's range coder takes every CDF of a string before it decodes the first
symbol, so it cannot decode a code whose CDF depends on the code decoded
just before; constriction's range coder decodes one symbol at a time under a
model given at that moment, which is what sequential decoding needs.

Encoder and decoder call `_probabilities` with arrays of the same shapes
holding the same values (only earlier planes are read, and both sides know
them), so they build the same models bit for bit.
"""

import constriction
import numpy as np
import tensorflow as tf

from bls2017.core.images import latent_side
from content_weighted import context
from content_weighted.model import STRIDE

# Layer A's 5^3 kernel reaches 2 codes out, layer B's 3^3 kernel 1 more.
_REACH = 3


def _taps(layer):
  """(offsets [n, 3] the mask allows, their weights [n * inputs, filters])."""
  offsets, weights = layer.taps()
  return offsets, weights.numpy().astype(np.float64).reshape(
      -1, layer.filters)


class SequentialCoder:
  """Range-codes the kept codes of one image one by one, in plane order.

  `mask` [h, w, C] (from the importance map, which is decoded first) says
  which codes are kept; both sides construct the coder with the same mask.
  """

  def __init__(self, context_model, mask):
    masked_a, masked_b, logits = context.masked_layers(context_model)
    offsets_a, self.w_a = _taps(masked_a)
    offsets_b, self.w_b = _taps(masked_b)
    self.b_a = masked_a.bias.numpy().astype(np.float64)
    self.b_b = masked_b.bias.numpy().astype(np.float64)
    self.w_c = logits.kernel.numpy()[0, 0, 0].astype(np.float64)
    self.b_c = logits.bias.numpy().astype(np.float64)
    self.num_levels = self.w_c.shape[-1]

    mask = np.transpose(np.asarray(mask) > 0, [2, 0, 1])  # [C, h, w]
    self.shape = mask.shape
    padded = np.array(mask.shape) + 2 * _REACH
    # The context volume [C, h, w, 2] (value, mask) zero-padded by _REACH,
    # flattened: a position's inputs are then fixed flat offsets from it.
    self.volume = np.zeros([*padded, 2])
    inner = tuple(slice(_REACH, _REACH + n) for n in mask.shape)
    self.volume[inner + (1,)] = mask
    # Layer B reads layer A's output only inside the volume ("SAME" pads
    # layer A's output with zeros, not with relu(bias)).
    self.inside = np.zeros(padded)
    self.inside[inner] = 1
    strides = self.strides = np.array([padded[1] * padded[2], padded[2], 1])
    self.step_b = offsets_b @ strides
    step_a = (offsets_b[:, None, :] + offsets_a[None, :, :]) @ strides
    self.inputs_a = (2 * step_a[..., None] + np.arange(2)).reshape(
        len(offsets_b), -1)
    kept = np.argwhere(mask)  # (c, i, j), raster order.
    self.order = kept[np.argsort(kept.sum(1), kind="stable")]
    self.flat = (self.order + _REACH) @ strides

  def _probabilities(self, position, head=None):
    """P(value | earlier planes) at the flat padded `position`, under
    `head` (weights, bias) of the last layer; default the codes' [Q]."""
    h1 = self.volume.reshape(-1)[2 * position + self.inputs_a] @ self.w_a
    h1 = np.maximum(h1 + self.b_a, 0)
    h1 *= self.inside.reshape(-1)[position + self.step_b][:, None]
    h2 = np.maximum(h1.reshape(-1) @ self.w_b + self.b_b, 0)
    weights, bias = head or (self.w_c, self.b_c)
    logits = h2 @ weights + bias
    odds = np.exp(logits - logits.max())
    return odds / odds.sum()

  def _write(self, positions, codes):
    self.volume.reshape(-1)[2 * positions] = context.code_value(
        codes, self.num_levels)

  def probabilities(self, codes):
    """P(code | earlier codes) [n, Q] of every kept code of `codes`, in
    coding order (what `encode` codes them with)."""
    self._fill(codes)
    return np.stack([self._probabilities(p) for p in self.flat])

  def _fill(self, codes):
    """Writes the kept codes of `codes` [h, w, C]; returns them in order."""
    symbols = np.asarray(codes)[self.order[:, 1], self.order[:, 2],
                                self.order[:, 0]].astype(np.int32)
    self.volume[..., 0] = 0
    self._write(self.flat, symbols)
    return symbols

  def encode(self, codes):
    """Bytes of the kept codes of `codes` [h, w, C] (int levels)."""
    symbols = self._fill(codes)
    encoder = constriction.stream.queue.RangeEncoder()
    for position, code in zip(self.flat, symbols):
      encoder.encode(int(code), self._model(position))
    return encoder.get_compressed().astype("<u4").tobytes()

  def decode(self, data):
    """Codes [h, w, C] (0 where not kept) from `encode`'s bytes."""
    words = np.frombuffer(data, "<u4").astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    self.volume[..., 0] = 0
    channels, height, width = self.shape
    codes = np.zeros([height, width, channels], np.int32)
    for (c, i, j), position in zip(self.order, self.flat):
      code = decoder.decode(self._model(position))
      self._write(position, code)
      codes[i, j, c] = code
    return codes

  def _model(self, position, head=None):
    return constriction.stream.model.Categorical(
        self._probabilities(position, head), perfect=False)


class MapSequentialCoder(SequentialCoder):
  """Range-codes the importance levels k [h, w] and the kept codes one by
  one in plane order, the map as slice 0 of the volume (map_model=
  "context", as `planes.MapPlaneCoder`): a cell's level is coded at plane
  i + j under `map_head`, and sets the mask of the cell's codes, which
  come on later planes. Both sides construct it with the code volume's
  shape (h, w, C).
  """

  def __init__(self, context_model, map_head, shape):
    height, width, channels = shape
    # Every position of the volume [C + 1, h, w] in plane order; a code's
    # mask is set when its cell's level is coded.
    super().__init__(context_model, np.ones([height, width, channels + 1]))
    self.map_head = (
        map_head.kernel.numpy()[0, 0, 0].astype(np.float64),
        map_head.bias.numpy().astype(np.float64))
    self.map_levels = map_head.filters
    self.group_size = channels // (self.map_levels - 1)

  def _reset(self):
    self.volume[..., 0] = 0
    self.volume[_REACH + 1:-_REACH, ..., 1] = 0  # The codes' masks.

  def _set_level(self, position, i, j, level):
    """Writes the level at the map's padded `position` and keeps the
    first level groups of codes of its cell (i, j)."""
    self.volume.reshape(-1)[2 * position] = context.code_value(
        level, self.map_levels)
    kept = np.arange(level * self.group_size) + 1 + _REACH
    cells = kept * self.strides[0] + (np.array([i, j]) + _REACH) @ (
        self.strides[1:])
    self.volume.reshape(-1)[2 * cells + 1] = 1

  def _kept(self, position):
    return self.volume.reshape(-1)[2 * position + 1] > 0

  def encode(self, codes, k):
    """Bytes of the levels k [h, w] and the codes [h, w, C] they keep."""
    self._reset()
    encoder = constriction.stream.queue.RangeEncoder()
    for (c, i, j), position in zip(self.order, self.flat):
      if c == 0:
        encoder.encode(int(k[i, j]), self._model(position, self.map_head))
        self._set_level(position, i, j, int(k[i, j]))
      elif self._kept(position):
        encoder.encode(int(codes[i, j, c - 1]), self._model(position))
        self._write(position, codes[i, j, c - 1])
    return encoder.get_compressed().astype("<u4").tobytes()

  def decode(self, data):
    """(codes [h, w, C], 0 where not kept; levels k [h, w]) from
    `encode`'s bytes."""
    words = np.frombuffer(data, "<u4").astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    self._reset()
    depth, height, width = self.shape
    codes = np.zeros([height, width, depth - 1], np.int32)
    k = np.zeros([height, width], np.int32)
    for (c, i, j), position in zip(self.order, self.flat):
      if c == 0:
        k[i, j] = decoder.decode(self._model(position, self.map_head))
        self._set_level(position, i, j, k[i, j])
      elif self._kept(position):
        codes[i, j, c - 1] = decoder.decode(self._model(position))
        self._write(position, codes[i, j, c - 1])
    return codes, k


def compress(codec, x):
  """(importance-map string, sequentially coded codes) of uint8 image x, for
  a `content_weighted.codec.Codec`: the file's payload without its framing.
  With map_model="context" the map is coded with the codes and its string
  is empty."""
  codes, k, mask = codec.codes(x)
  if codec.model.map_head is not None:
    coder = MapSequentialCoder(codec.model.context_model,
                               codec.model.map_head, codes.shape)
    return b"", coder.encode(codes.numpy(), k.numpy()[..., 0])
  map_string = codec.map_prior.compress(tf.cast(k, tf.float32))
  coder = SequentialCoder(codec.model.context_model, mask.numpy())
  return map_string.numpy(), coder.encode(codes.numpy())


def decompress(codec, map_string, data, height, width):
  """(codes [h, w, C], uint8 image [height, width, channels]) from
  `compress`'s output."""
  h, w = latent_side(height, STRIDE), latent_side(width, STRIDE)
  if codec.model.map_head is not None:
    codes, k = MapSequentialCoder(
        codec.model.context_model, codec.model.map_head,
        (h, w, codec.model.code_channels)).decode(data)
    k = k[..., None]
  else:
    k = tf.cast(codec.map_prior.decompress(map_string, (h, w)), tf.int32)
    mask = codec.model.mask(k)
    codes = SequentialCoder(codec.model.context_model,
                            mask.numpy()).decode(data)
  x_hat = codec.model.synthesize(codes[None], k[None])[0, :height, :width]
  return codes, tf.saturate_cast(tf.round(x_hat), tf.uint8).numpy()

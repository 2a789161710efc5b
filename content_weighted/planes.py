"""Slanted-plane coding that evaluates only the current plane's windows.

Codes are coded in planes t = c + i + j (see `context`): every code of
plane t depends only on codes of earlier planes, so a whole plane is coded
at once, in T = C + h + w - 2 steps. The context model's whole-volume form
(`context.logits_hwc`, what training uses) would run every layer over all
C * h * w positions at each step; here each step evaluates its own plane
only, each masked convolution as one matrix product over the gathered
windows of the plane's positions (P: plane t's positions; K: the kept ones):

    codes of planes t-6 .. t-1 (values)
        --gather P + taps_a--> [|P|, 53] @ W_a(value) + mask share, relu
        --> h1 of P      (mask share: masked_a on the mask channel and its
                          bias, for every position in one pass: the mask
                          is known before the first plane)
    h1 of planes t-3 .. t
        --gather K + taps_b--> [|K|, 17 x F] @ W_b + b_b, relu
        --> @ W_c + b_c --> logits [|K|, Q] --quantized_cdf--> range coder
    the codes of plane t (decoded, or given to the encoder) --> values

masked_a reads only earlier planes (mask "A"), so h1 on plane t is final as
soon as the planes before it are coded, and masked_b (mask "B") reads h1 on
planes up to t. Over a whole image every layer runs once per position,
against once per position per plane for whole-volume passes. The loop keeps
only the planes its taps reach (6 of values, 4 of h1), so no step copies
anything of the size of the volume.

With the map coded in the planes (`MapPlaneCoder`), the volume is
[C + 1, h, w] with the levels k as slice 0; the mask is not known ahead,
so masked_a's mask share is gathered from the windows like the values,
and each plane's codes are kept or not by the levels decoded on earlier
planes (the loop's state).

Positions are sorted by plane; a tap's position maps to its rank in that
order (`_Layout.rank`, -1 outside the volume, which reads zeros as "SAME"
padding does), and a rank to a row of the window of recent planes.

Encoder and decoder run this same loop on tensors of the same shapes, with
the same values in everything a plane reads, so they build the same float
logits and integer CDFs.
"""

import tensorflow as tf

from bls2017.core.entropy.empirical import PRECISION
from content_weighted import context


def _taps(layer, strides):
  """(flat offsets [n] of the taps the layer's mask allows, their weights
  [n, inputs, filters], how many planes back they reach)."""
  offsets, weights = layer.taps()
  return (tf.tensordot(tf.constant(offsets, tf.int32), strides, 1), weights,
          int(-offsets.sum(1).min()))


class PlaneCoder(tf.Module):
  """Range-codes kept codes [h, w, C] plane by plane under `context_model`.

  Both sides are given the mask [h, w, C] (the importance map is decoded
  first). encode -> one string per plane [T]; decode -> codes [h, w, C],
  0 where not kept. `MapPlaneCoder` codes the map in the same planes.
  """

  def __init__(self, context_model, num_levels):
    super().__init__(name="plane_coder")
    self.masked_a, self.masked_b, self.to_logits = context.masked_layers(
        context_model)
    self.num_levels = num_levels
    # Padding wide enough that no tap of a position in the volume wraps.
    self.pad = max(self.masked_a.size, self.masked_b.size) // 2

  def encode(self, codes, mask):
    """One range-coded string per plane, [T], of the kept codes."""
    return self._encode(codes, _KnownMask(mask))

  def decode(self, strings, mask):
    """Codes [h, w, C] from `encode`'s strings and the same mask."""
    return self._decode(strings, _KnownMask(mask), tf.shape(mask))

  def logits(self, codes, mask):
    """Logits [h, w, C, Q] of the kept codes (0 elsewhere), as `encode`
    computes them. Eager only: the planes are collected in Python."""
    return self._logits(codes, _KnownMask(mask))[0]

  def _encode(self, volume, masking):
    layout = _Layout(tf.shape(volume), self.pad)
    symbols = tf.gather(_flat(volume), layout.inner)

    def code(plane):
      kept = symbols[plane.start:plane.end][plane.kept]
      return kept, context.range_encode(kept, plane.cdf)

    _, strings = self._loop(layout, masking, code)
    return strings

  def _decode(self, strings, masking, shape):
    layout = _Layout(shape, self.pad)

    def code(plane):
      return context.range_decode(strings[plane.t], plane.cdf), tf.constant(
          "")

    decoded, _ = self._loop(layout, masking, code)
    return layout.unflatten(decoded)

  def _logits(self, volume, masking):
    """Each head's logits [h, w, D, levels] at its kept positions."""
    layout = _Layout(tf.shape(volume), self.pad)
    symbols = tf.gather(_flat(volume), layout.inner)
    collected = []

    def code(plane):
      where, size = tf.where(plane.kept), plane.end - plane.start
      collected.append([tf.scatter_nd(where, logits, [size, logits.shape[-1]])
                        for logits in plane.logits])
      return symbols[plane.start:plane.end][plane.kept], tf.constant("")

    self._loop(layout, masking, code)
    return [layout.unflatten(tf.concat(head, 0))
            for head in zip(*collected)]

  def _loop(self, layout, masking, code):
    """Runs the planes; code(plane: _Plane) -> (plane t's kept symbols, its
    string). Returns (all symbols [D * h * w] in plane order, strings
    [T])."""
    taps_a, w_a, reach_a = _taps(self.masked_a, layout.strides)
    taps_b, w_b, reach_b = _taps(self.masked_b, layout.strides)
    masking.start(self, layout)
    filters = self.masked_a.filters

    def rows(window, first, positions):
      """Rows of `window` (the planes from sorted rank `first` on) at
      padded `positions`; zeros outside the volume."""
      rank = tf.gather(layout.rank, positions)
      zero = tf.zeros(tf.concat([[1], tf.shape(window)[1:]], 0))
      padded = tf.concat([window, zero], 0)
      return tf.gather(padded, tf.where(rank < 0, tf.shape(window)[0],
                                        rank - first))

    def body(t, window, h1_window, state, codes, strings):
      start, end = layout.starts[t], layout.starts[t + 1]
      padded = layout.padded[start:end]
      first_a = layout.starts[tf.maximum(t - reach_a, 0)]
      window = window[first_a - layout.starts[tf.maximum(t - 1 - reach_a,
                                                         0)]:]
      inputs = rows(window, first_a, padded[:, None] + taps_a)
      h1 = tf.nn.relu(inputs[..., 0] @ w_a[:, 0] + masking.mask_share(
          start, end, lambda: inputs[..., 1] @ w_a[:, 1] +
          self.masked_a.bias))
      first_b = layout.starts[tf.maximum(t - reach_b, 0)]
      h1_window = tf.concat([h1_window[first_b - layout.starts[
          tf.maximum(t - 1 - reach_b, 0)]:], h1], 0)
      kept = masking.kept(state, start, end)
      h2 = rows(h1_window, first_b, padded[kept][:, None] + taps_b)
      h2 = tf.nn.relu(tf.reshape(h2, [tf.shape(h2)[0], -1]) @
                      tf.reshape(w_b, [-1, filters]) + self.masked_b.bias)
      logits, cdf = masking.heads(self, h2, start, end, kept)
      symbols, string = code(_Plane(t, start, end, kept, logits, cdf))
      plane_symbols = tf.scatter_nd(tf.where(kept), symbols, [end - start])
      value = masking.values(self, plane_symbols, start, end, kept)
      window = tf.concat([window, tf.stack(
          [value, tf.cast(kept, tf.float32)], -1)], 0)
      return (t + 1, window, h1_window,
              masking.update(state, plane_symbols, start, end),
              codes.write(t, plane_symbols), strings.write(t, string))

    state = tf.while_loop(
        lambda t, *_: t < layout.count, body,
        (0, tf.zeros([0, 2]), tf.zeros([0, filters]), masking.initial,
         tf.TensorArray(tf.int32, layout.count, infer_shape=False,
                        element_shape=[None]),
         tf.TensorArray(tf.string, layout.count)),
        shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, 2]),
                          tf.TensorShape([None, filters]),
                          masking.initial.shape,
                          tf.TensorShape(None), tf.TensorShape(None)))
    return state[4].concat(), state[5].stack()


class MapPlaneCoder(PlaneCoder):
  """Codes the importance levels k [h, w] and the kept codes [h, w, C] in
  one plane loop: the map is slice 0 of the volume [C + 1, h, w] (plane
  i + j), under `map_head`; codes (c, i, j) are in plane c + 1 + i + j, so
  a position's level is decoded before any of its codes, and the mask
  follows from it (code c is kept where its group c // (C / L) < k). Each
  plane is one string, the map's CDFs and the codes' padded to one width
  (trailing zero-probability values are padding to the range coder).
  """

  def __init__(self, context_model, num_levels, map_head):
    super().__init__(context_model, num_levels)
    self.map_head = map_head

  def encode(self, codes, k):
    """One string per plane, [C + h + w - 1], of levels k [h, w] (int,
    0 .. L) and the codes [h, w, C] they keep."""
    volume = tf.concat([tf.cast(k, tf.int32)[..., None], codes], -1)
    return self._encode(volume, _MapMask(self.map_head.filters))

  def decode(self, strings, shape):
    """(codes [h, w, C], 0 where not kept; levels k [h, w]) from `encode`'s
    strings; shape: [h, w, C]."""
    h, w, c = tf.unstack(shape)
    volume = self._decode(strings, _MapMask(self.map_head.filters),
                          tf.stack([h, w, c + 1]))
    return volume[..., 1:], volume[..., 0]

  def logits(self, codes, k):
    """(code logits [h, w, C, Q] where kept, map logits [h, w, L + 1]) as
    `encode` computes them. Eager only."""
    volume = tf.concat([tf.cast(k, tf.int32)[..., None], codes], -1)
    code_logits, map_logits = self._logits(
        volume, _MapMask(self.map_head.filters))
    return code_logits[:, :, 1:], map_logits[:, :, 0]


class _KnownMask:
  """What the loop needs of a mask known before the first plane: which
  positions are kept, and masked_a's share from the mask channel for
  every position in one pass (and the bias)."""

  def __init__(self, mask):
    self.mask = tf.cast(mask > 0, tf.float32)
    self.initial = tf.zeros([0])  # No state: everything is known.

  def start(self, coder, layout):
    self.num_levels, self.to_logits = coder.num_levels, coder.to_logits
    unknown = tf.stack([tf.zeros_like(self.mask), self.mask], -1)
    share = coder.masked_a(tf.transpose(unknown, [2, 0, 1, 3])[None])
    self.share = tf.gather(tf.reshape(share, [layout.size, -1]),
                           layout.inner)
    self.sorted = tf.gather(_flat(self.mask), layout.inner)

  def mask_share(self, start, end, from_windows):
    del from_windows  # Computed ahead, in `start`.
    return self.share[start:end]

  def kept(self, state, start, end):
    del state
    return self.sorted[start:end] > 0

  def heads(self, coder, h2, start, end, kept):
    del start, end, kept
    logits = h2 @ _kernel(coder.to_logits) + coder.to_logits.bias
    return (logits,), context.quantized_cdf(logits)

  def values(self, coder, symbols, start, end, kept):
    del start, end
    return tf.cast(kept, tf.float32) * context.code_value(
        tf.cast(symbols, tf.float32), coder.num_levels)

  def update(self, state, symbols, start, end):
    del symbols, start, end
    return state


class _MapMask:
  """The same for a map coded in the planes: the levels decoded so far,
  [h * w] (state of the loop), give the mask; masked_a's mask share comes
  from the windows, as the values' does."""

  def __init__(self, map_levels):
    self.map_levels = map_levels

  def start(self, coder, layout):
    self.layout = layout
    self.group_size = (layout.shape[0] - 1) // (self.map_levels - 1)
    self.initial = tf.zeros([layout.shape[1] * layout.shape[2]], tf.int32)

  def mask_share(self, start, end, from_windows):
    del start, end
    return from_windows()

  def kept(self, state, start, end):
    depth = self.layout.depth[start:end]
    level = tf.gather(state, self.layout.cell[start:end])
    return (depth == 0) | ((depth - 1) // self.group_size < level)

  def is_map(self, start, end, kept):
    return tf.boolean_mask(self.layout.depth[start:end], kept) == 0

  def heads(self, coder, h2, start, end, kept):
    code_logits = h2 @ _kernel(coder.to_logits) + coder.to_logits.bias
    map_logits = h2 @ _kernel(coder.map_head) + coder.map_head.bias
    code_cdf, map_cdf = (context.quantized_cdf(code_logits),
                         context.quantized_cdf(map_logits))
    width = max(code_cdf.shape[-1], map_cdf.shape[-1])
    cdf = tf.where(self.is_map(start, end, kept)[:, None],
                   _pad_cdf(map_cdf, width), _pad_cdf(code_cdf, width))
    return (code_logits, map_logits), cdf

  def values(self, coder, symbols, start, end, kept):
    symbols = tf.cast(symbols, tf.float32)
    return tf.where(self.layout.depth[start:end] == 0,
                    context.code_value(symbols, self.map_levels),
                    tf.cast(kept, tf.float32) * context.code_value(
                        symbols, coder.num_levels))

  def update(self, state, symbols, start, end):
    on_map = self.layout.depth[start:end] == 0
    return tf.tensor_scatter_nd_update(
        state, tf.boolean_mask(self.layout.cell[start:end], on_map)[:, None],
        tf.boolean_mask(symbols, on_map))


def _kernel(layer):
  """A 1x1x1 masked convolution's kernel as a matrix [inputs, outputs]."""
  return tf.reshape(layer.kernel, [-1, layer.filters])


def _pad_cdf(cdf, width):
  """CDF rows [n, m] padded to `width` with 2^16: values that cannot
  occur, which the range coder reads as padding."""
  return tf.pad(cdf, [[0, 0], [0, width - cdf.shape[-1]]],
                constant_values=2**PRECISION)


def _flat(volume):
  """[h, w, C] -> [C * h * w], channel as depth (the context model's)."""
  return tf.reshape(tf.transpose(volume, [2, 0, 1]), [-1])


class _Plane:
  """What a plane's coding step sees: its index t, its positions' range
  [start, end) in plane order, which of them are kept [end - start], the
  kept positions' logits under each head ([n, Q], and [n, L + 1] with the
  map) and the integer CDFs [n, width] they are coded with."""

  def __init__(self, t, start, end, kept, logits, cdf):
    self.t, self.start, self.end = t, start, end
    self.kept, self.logits, self.cdf = kept, logits, cdf


class _Layout:
  """Positions of a code volume [h, w, C] taken as [C, h, w] (channel as
  depth, like the context model), sorted by plane: each one's flat index in
  the volume (`inner`) and in the volume zero-padded by `pad` (`padded`);
  `rank` [padded size] maps a padded position back to its place in that
  order (-1 for padding); plane t is [starts[t], starts[t + 1])."""

  def __init__(self, shape, pad):
    height, width, channels = tf.unstack(shape)
    self.shape = (channels, height, width)
    self.count = height + width + channels - 2
    self.size = channels * height * width
    sides = tf.stack([channels, height, width]) + 2 * pad
    self.padded_size = tf.reduce_prod(sides)
    self.strides = tf.stack([sides[1] * sides[2], sides[2], 1])
    c, i, j = tf.meshgrid(tf.range(channels), tf.range(height),
                          tf.range(width), indexing="ij")
    plane = tf.reshape(c + i + j, [-1])
    self.inner = tf.argsort(plane, stable=True)
    # Each sorted position's depth and its cell i * w + j of the map.
    self.depth = tf.gather(tf.reshape(c, [-1]), self.inner)
    self.cell = tf.gather(tf.reshape(i * width + j, [-1]), self.inner)
    where = tf.reshape(tf.stack([c, i, j], -1), [-1, 3]) + pad
    self.padded = tf.gather(tf.tensordot(where, self.strides, 1), self.inner)
    self.rank = tf.tensor_scatter_nd_update(
        tf.fill([self.padded_size], -1), self.padded[:, None],
        tf.range(self.size))
    counts = tf.math.bincount(plane, minlength=self.count)
    self.starts = tf.concat([[0], tf.cumsum(counts)], 0)

  def unflatten(self, sorted_values):
    """[C * h * w, ...] in plane order -> [h, w, C, ...]."""
    volume = tf.scatter_nd(self.inner[:, None], sorted_values,
                           tf.concat([[self.size],
                                      tf.shape(sorted_values)[1:]], 0))
    volume = tf.reshape(volume, tf.concat([tf.stack(self.shape),
                                           tf.shape(sorted_values)[1:]], 0))
    rank = len(sorted_values.shape)
    return tf.transpose(volume, [1, 2, 0] + list(range(3, rank + 2)))

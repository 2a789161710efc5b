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

Positions are sorted by plane; a tap's position maps to its rank in that
order (`_Layout.rank`, -1 outside the volume, which reads zeros as "SAME"
padding does), and a rank to a row of the window of recent planes.

Encoder and decoder run this same loop on tensors of the same shapes, with
the same values in everything a plane reads, so they build the same float
logits and integer CDFs.
"""

import tensorflow as tf

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
  0 where not kept.
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
    layout = _Layout(tf.shape(mask), self.pad)
    codes = tf.gather(_flat(codes), layout.inner)

    def code(plane):
      symbols = codes[plane.start:plane.end][plane.kept]
      return symbols, context.range_encode(
          symbols, context.quantized_cdf(plane.logits))

    _, strings = self._loop(layout, mask, code)
    return strings

  def decode(self, strings, mask):
    """Codes [h, w, C] from `encode`'s strings and the same mask."""
    layout = _Layout(tf.shape(mask), self.pad)

    def code(plane):
      return context.range_decode(strings[plane.t], context.quantized_cdf(
          plane.logits)), tf.constant("")

    decoded, _ = self._loop(layout, mask, code)
    return layout.unflatten(decoded)

  def logits(self, codes, mask):
    """Logits [h, w, C, Q] of the kept codes (0 elsewhere), as `encode`
    computes them. Eager only: the planes are collected in Python."""
    layout = _Layout(tf.shape(mask), self.pad)
    codes = tf.gather(_flat(codes), layout.inner)
    collected = []

    def code(plane):
      logits = tf.scatter_nd(tf.where(plane.kept), plane.logits,
                             [plane.end - plane.start, self.num_levels])
      collected.append(logits)
      return codes[plane.start:plane.end][plane.kept], tf.constant("")

    self._loop(layout, mask, code)
    return layout.unflatten(tf.concat(collected, 0))

  def _loop(self, layout, mask, code):
    """Runs the planes; code(plane: _Plane) -> (plane t's kept codes, its
    string). Returns (all codes [C * h * w] in plane order, strings [T])."""
    taps_a, w_a, reach_a = _taps(self.masked_a, layout.strides)
    taps_b, w_b, reach_b = _taps(self.masked_b, layout.strides)
    w_c = tf.reshape(self.to_logits.kernel, [-1, self.num_levels])
    mask = tf.cast(mask > 0, tf.float32)
    # masked_a's input is (value, mask): the mask's share of every position
    # (and the bias) is known ahead, masked_a on the volume with all values
    # 0, in one pass; the loop adds the values' share.
    unknown = tf.stack([tf.zeros_like(mask), mask], -1)  # [h, w, C, 2]
    mask_share = self.masked_a(tf.transpose(unknown, [2, 0, 1, 3])[None])
    mask_share = tf.gather(tf.reshape(mask_share, [layout.size, -1]),
                           layout.inner)
    value_weights = w_a[:, 0]  # [taps, filters]
    mask = tf.gather(_flat(mask), layout.inner)
    filters = self.masked_a.filters

    def rows(window, first, positions):
      """Rows of `window` (the planes from sorted rank `first` on) at
      padded `positions`; zeros outside the volume."""
      rank = tf.gather(layout.rank, positions)
      zero = tf.zeros(tf.concat([[1], tf.shape(window)[1:]], 0))
      padded = tf.concat([window, zero], 0)
      return tf.gather(padded, tf.where(rank < 0, tf.shape(window)[0],
                                        rank - first))

    def body(t, values, h1_window, codes, strings):
      start, end = layout.starts[t], layout.starts[t + 1]
      padded = layout.padded[start:end]
      first_a = layout.starts[tf.maximum(t - reach_a, 0)]
      values = values[first_a - layout.starts[tf.maximum(t - 1 - reach_a,
                                                         0)]:]
      h1 = tf.nn.relu(rows(values, first_a, padded[:, None] + taps_a) @
                      value_weights + mask_share[start:end])
      first_b = layout.starts[tf.maximum(t - reach_b, 0)]
      h1_window = tf.concat([h1_window[first_b - layout.starts[
          tf.maximum(t - 1 - reach_b, 0)]:], h1], 0)
      kept = mask[start:end] > 0
      h2 = rows(h1_window, first_b, padded[kept][:, None] + taps_b)
      h2 = tf.nn.relu(tf.reshape(h2, [tf.shape(h2)[0], -1]) @
                      tf.reshape(w_b, [-1, filters]) + self.masked_b.bias)
      plane = _Plane(t, start, end, kept, h2 @ w_c + self.to_logits.bias)
      symbols, string = code(plane)
      plane_codes = tf.scatter_nd(tf.where(kept), symbols, [end - start])
      value = context.code_value(tf.cast(plane_codes, tf.float32),
                                 self.num_levels)
      values = tf.concat([values, tf.cast(kept, tf.float32) * value], 0)
      return (t + 1, values, h1_window, codes.write(t, plane_codes),
              strings.write(t, string))

    state = tf.while_loop(
        lambda t, *_: t < layout.count, body,
        (0, tf.zeros([0]), tf.zeros([0, filters]),
         tf.TensorArray(tf.int32, layout.count, infer_shape=False,
                        element_shape=[None]),
         tf.TensorArray(tf.string, layout.count)),
        shape_invariants=(tf.TensorShape([]), tf.TensorShape([None]),
                          tf.TensorShape([None, filters]),
                          tf.TensorShape(None), tf.TensorShape(None)))
    return state[3].concat(), state[4].stack()


def _flat(volume):
  """[h, w, C] -> [C * h * w], channel as depth (the context model's)."""
  return tf.reshape(tf.transpose(volume, [2, 0, 1]), [-1])


class _Plane:
  """What a plane's coding step sees: its index t, its positions' range
  [start, end) in plane order, which of them are kept [end - start] and
  the kept codes' logits [n, Q]."""

  def __init__(self, t, start, end, kept, logits):
    self.t, self.start, self.end = t, start, end
    self.kept, self.logits = kept, logits


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

"""The content-weighted model: encoder, importance map, quantizer, decoder.

    x --g_a--> f --1x1, sigmoid--> e --quantize--> e_hat --x mask--> g_s --> x_hat
               |                                            ^
               +--importance net--> p --ceil(L p) groups----+
                                                 |
                                 codes --context model--> P(code | earlier)

Training minimises R_proxy + lambda * MSE + CE: R_proxy = bits of the kept
codes (sum of the mask times log2 Q) per pixel, the differentiable rate of
Li et al.; CE = the context model's cross-entropy of the kept codes, which
trains only the context model (its inputs are held fixed). g_a and g_s
are the shared GDN stack or convolutions with dense blocks (`transform`);
two-stage training replaces the mask by its relaxation for the first
`relaxed_until` steps. The importance levels k are coded under factorized
tables fitted after training (map_model="factorized") or by the context
model, as slice 0 of its volume with a head of their own
(map_model="context"); then CE counts the map's bits too.
"""

import math

import tensorflow as tf

from bls2017.core.lagrangian import LagrangianModel
from bls2017.core.layers import GDNTransform
import content_weighted
from content_weighted import SYSTEM, context, importance

# Total downsampling factor of the encoder (2 * 2 * 2).
STRIDE = 8

MAP_MODELS = content_weighted.MAP_MODELS


class Encoder(GDNTransform):
  """g_a: x (0..255) -> features f [H/8, W/8, num_filters] (conv + GDN)."""

  def __init__(self, num_filters):
    super().__init__("g_a", up=False, stages=(
        (num_filters, 9, 2, True), (num_filters, 5, 2, True),
        (num_filters, 5, 2, True)))


class Decoder(GDNTransform):
  """g_s: masked dequantized codes -> x_hat (0..255), with inverse GDN."""

  def __init__(self, num_filters, channels):
    super().__init__("g_s", up=True, stages=(
        (num_filters, 5, 2, True), (num_filters, 5, 2, True),
        (channels, 9, 2, False)))


class DenseBlock(tf.keras.layers.Layer):
  """A dense block (Huang et al., "Densely Connected Convolutional
  Networks", CVPR 2017): every layer sees the block's input and all the
  earlier layers' outputs,

      h_i = relu(conv3x3([x, h_1, ..., h_{i-1}])),   i = 1 .. depth
      out = x + conv1x1([x, h_1, ..., h_depth])

  [B, H, W, filters] -> [B, H, W, filters]. The 1x1 fusion and the block's
  residual (as in residual dense blocks) keep the width fixed and let a
  short training start from the identity; no batch normalisation, so a
  patch codes the same whatever batch it is in.
  """

  def __init__(self, filters, depth=3, growth=None, **kwargs):
    super().__init__(**kwargs)
    growth = growth or filters // 2
    self.layers_ = [tf.keras.layers.Conv2D(
        growth, 3, padding="same", activation="relu", name=f"conv_{i}")
        for i in range(depth)]
    self.fuse = tf.keras.layers.Conv2D(filters, 1, name="fuse")

  def call(self, x):
    features = [x]
    for layer in self.layers_:
      features.append(layer(tf.concat(features, -1)))
    return x + self.fuse(tf.concat(features, -1))


class DenseEncoder(tf.keras.Sequential):
  """g_a with dense blocks: x (0..255) -> f [H/8, W/8, num_filters].

      x / 255 --conv 5x5 /2, relu--> dense block --conv 3x3 /2, relu-->
      dense block --conv 3x3 /2--> dense block --> f
  """

  def __init__(self, num_filters):
    super().__init__(name="g_a")
    self.add(tf.keras.layers.Rescaling(1 / 255))
    for i, kernel in enumerate((5, 3, 3)):
      self.add(tf.keras.layers.Conv2D(
          num_filters, kernel, 2, padding="same", name=f"down_{i}",
          activation="relu" if i < 2 else None))
      self.add(DenseBlock(num_filters, name=f"dense_{i}"))


class DenseDecoder(tf.keras.Sequential):
  """g_s with dense blocks, the encoder's mirror: masked dequantized codes
  -> x_hat (0..255), upsampling by transposed convolutions.

      codes --conv 3x3, relu--> dense block --up 3x3 x2, relu--> dense block
      --up 3x3 x2, relu--> dense block --up 5x5 x2--> * 255 --> x_hat
  """

  def __init__(self, num_filters, channels):
    super().__init__(name="g_s")
    self.add(tf.keras.layers.Conv2D(num_filters, 3, padding="same",
                                    activation="relu", name="widen"))
    for i, kernel in enumerate((3, 3, 5)):
      self.add(DenseBlock(num_filters, name=f"dense_{i}"))
      last = i == 2
      self.add(tf.keras.layers.Conv2DTranspose(
          channels if last else num_filters, kernel, 2, padding="same",
          activation=None if last else "relu", name=f"up_{i}"))
    self.add(tf.keras.layers.Rescaling(255))


# The encoder/decoder pairs `--transform` picks between.
TRANSFORMS = {"gdn": (Encoder, Decoder),
              "dense": (DenseEncoder, DenseDecoder)}


class ContentWeightedModel(LagrangianModel):
  """Training model (see the module docstring).

  importance_map=False keeps every code everywhere (the paper's ablation);
  the rate then comes from the context model alone. relaxed_until: steps
  trained on the relaxed mask (`importance.relaxed_mask`) before the hard
  one (two-stage training); None trains on the hard mask throughout.
  transform: "gdn" (the shared GDN stack) or "dense" (dense blocks).
  map_model: how the importance levels are coded, "factorized" or
  "context" (see the module docstring).
  """

  system = SYSTEM.name
  term_names = ("loss", "proxy_bpp", "mse", "context_bpp")

  def __init__(self, lmbda=0.01, num_filters=64, code_channels=32,
               groups=16, num_levels=8, channels=3, importance_map=True,
               mask_gradient="band", relaxed_until=None, transform="gdn",
               map_model="factorized"):
    super().__init__(lmbda, name="content_weighted")
    self.num_filters = int(num_filters)
    self.code_channels = int(code_channels)
    self.groups = int(groups)
    self.num_levels = int(num_levels)
    self.channels = int(channels)
    self.importance_map = bool(importance_map)
    if mask_gradient not in importance.MASK_GRADIENTS:
      raise ValueError(f"mask_gradient must be one of "
                       f"{importance.MASK_GRADIENTS}, not {mask_gradient!r}.")
    self.mask_gradient = mask_gradient
    if transform not in TRANSFORMS:
      raise ValueError(f"transform must be one of {tuple(TRANSFORMS)}, "
                       f"not {transform!r}.")
    self.transform = transform
    if map_model not in MAP_MODELS:
      raise ValueError(f"map_model must be one of {MAP_MODELS}, "
                       f"not {map_model!r}.")
    self.map_model = map_model
    self.relaxed_until = None if relaxed_until is None else int(
        relaxed_until)
    if self.code_channels % self.groups:
      raise ValueError("code_channels must be a multiple of groups.")
    encoder, decoder = TRANSFORMS[transform]
    self.g_a = encoder(self.num_filters)
    self.to_codes = tf.keras.layers.Conv2D(
        self.code_channels, 1, activation="sigmoid", name="to_codes")
    self.importance_net = tf.keras.Sequential([
        tf.keras.layers.Conv2D(self.num_filters // 2, 3, padding="same",
                               activation="relu", name="conv_0"),
        tf.keras.layers.Conv2D(1, 1, activation="sigmoid", name="conv_1")],
        name="importance_net")
    # Frozen in the ablation: its output is replaced by ones, so it would get
    # no gradient (and Keras would warn about that on every step).
    self.importance_net.trainable = self.importance_map
    self.quantizer = importance.ChannelQuantizer(
        self.code_channels, self.num_levels, name="quantizer")
    self.g_s = decoder(self.num_filters, self.channels)
    self.context_model = context.ContextModel(self.num_levels)
    self.map_head = (context.map_head(self.groups + 1)
                     if map_model == "context" else None)
    self.build((None, None, None, self.channels))

  def get_config(self):
    return {"lmbda": self.lmbda, "num_filters": self.num_filters,
            "code_channels": self.code_channels, "groups": self.groups,
            "num_levels": self.num_levels, "channels": self.channels,
            "importance_map": self.importance_map,
            "mask_gradient": self.mask_gradient,
            "relaxed_until": self.relaxed_until, "transform": self.transform,
            "map_model": self.map_model}

  @property
  def coding_variables(self):
    return (self.g_a.weights + self.to_codes.weights +
            self.importance_net.weights + self.quantizer.weights +
            self.g_s.weights + self.context_model.weights +
            (self.map_head.weights if self.map_head else []))

  def analyse(self, x):
    """(features e [B, h, w, C] in (0, 1), importance p [B, h, w, 1])."""
    f = self.g_a(x)
    p = self.importance_net(f)
    if not self.importance_map:
      p = tf.ones_like(p)
    return self.to_codes(f), p

  def importance_levels(self, p):
    """k = ceil(L p): the integer importance map that is transmitted."""
    return importance.kept_groups(p, self.groups)

  def mask(self, k):
    return importance.group_mask(k, self.groups, self.code_channels)

  def synthesize(self, codes, k):
    """x_hat from int codes [B, h, w, C] and importance levels [B, h, w, 1]."""
    return self.g_s(self.quantizer.dequantize(codes) * self.mask(k))

  def context_bits(self, codes, mask, k=None):
    """-log2 P(code | earlier codes), summed over kept codes, per image;
    with map_model="context", plus -log2 P(k | earlier) of the importance
    levels k [B, h, w, 1]."""
    code_bits, map_bits = self.context_bits_split(codes, mask, k)
    return code_bits + map_bits

  def context_bits_split(self, codes, mask, k=None):
    """(the kept codes' bits [B], the map's bits [B]; 0 unless map_model
    is "context") under the context model."""
    if self.map_head is None:
      logits = context.logits_hwc(self.context_model, codes, mask,
                                  self.num_levels)
      map_nats = tf.zeros(tf.shape(codes)[:1])
    else:
      logits, map_logits = context.volume_logits(
          self.context_model, self.map_head, codes, mask, k, self.num_levels)
      map_nats = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
          k[..., 0], map_logits), [1, 2])
    nats = tf.nn.sparse_softmax_cross_entropy_with_logits(codes, logits)
    return (tf.reduce_sum(nats * mask, [1, 2, 3]) / math.log(2),
            map_nats / math.log(2))

  def training_mask(self, p, training):
    """The hard mask with its straight-through gradient; in training before
    step relaxed_until, the relaxed mask instead."""
    def hard():
      return importance.importance_mask(p, self.groups, self.code_channels,
                                        self.mask_gradient)
    if not training or self.relaxed_until is None:
      return hard()
    return tf.cond(
        self.optimizer.iterations < self.relaxed_until,
        lambda: importance.relaxed_mask(p, self.groups, self.code_channels),
        hard)

  def call(self, x, training=False):
    """(proxy bpp, mse, context bpp) of a batch."""
    x = tf.cast(x, self.compute_dtype)
    e, p = self.analyse(x)
    mask = self.training_mask(p, training)
    x_hat = self.g_s(self.quantizer(e) * mask)
    num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
    proxy_bpp = tf.reduce_sum(mask) * math.log2(self.num_levels) / num_pixels
    mse = tf.reduce_mean(tf.math.squared_difference(x, x_hat))
    codes = tf.stop_gradient(self.quantizer.indices(e))
    k = self.importance_levels(p)  # Integers: no gradient to p.
    context_bpp = tf.reduce_sum(self.context_bits(
        codes, tf.stop_gradient(mask), k)) / num_pixels
    return proxy_bpp, mse, context_bpp

  def loss_terms(self, x, training=False):
    """proxy bpp (the rate term, with the importance map), lambda * MSE
    and the context model's bits, which train the context model only."""
    proxy_bpp, mse, context_bpp = self(x, training=training)
    rate = proxy_bpp if self.importance_map else 0.0
    return {"loss": rate + self.lmbda * mse + context_bpp,
            "proxy_bpp": proxy_bpp, "mse": mse, "context_bpp": context_bpp}

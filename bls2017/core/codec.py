"""Compressor and Decompressor: a trained model as a real codec.

    Compressor:   x (uint8) --pad--> encoder --> payload --header--> bitstream
    Decompressor: bitstream --check header--> payload --> decoder --crop,
                  round--> x_hat (uint8)

Every system's codec is these two Keras models around its own encoder and
decoder, and a `Codec` subclass that builds them from its model file
(`System.opener`); e.g. the paper's (`bls2017.paper.codec`):

      encoder: x --> g_a --> y --round, range-code--> payload
      decoder: payload --range-decode--> y_hat --> g_s --> x_hat

`load` opens the model file of any registered system, or a shipped model by
name (`bls2017.core.catalog`: the catalogs the systems declare), as this
Keras codec. `CodecInterface` is what every codec offers, this one and the
cached SavedModels the commands use (`bls2017.core.saved_codec`).
"""

from typing import Protocol, runtime_checkable

import tensorflow as tf

from bls2017.core import bitstream, catalog, images, model_file, systems
from bls2017.core.images import latent_side


@runtime_checkable
class CodecInterface(Protocol):
  """A model file as a codec, however it runs: `Codec` (Keras) and
  `saved_codec.SavedCodec` (cached SavedModels) write and read the same
  bytes and raise the same errors.

  channels: 1 or 3; fingerprint: the 4 bytes its bitstreams carry; method,
  description: its system's name and description (evaluation results);
  metadata: the training record stored in its model file.
  """

  channels: int
  fingerprint: bytes
  max_pixels: int

  @property
  def method(self) -> str: ...

  @property
  def description(self) -> str: ...

  @property
  def metadata(self) -> dict: ...

  def compress(self, x) -> bytes:
    """uint8 array [H, W, channels] -> bitstream bytes."""

  def decompress(self, data, header=None):
    """Bitstream bytes -> uint8 array [H, W, channels]; a
    `bitstream.BitstreamError` for anything else. header: what
    `bitstream.unpack(data)` returned, if the caller already parsed it."""

  def information_content(self, x) -> float:
    """Bits the model assigns to what it codes of uint8 image x."""


class LatentEncoder(tf.Module):
  """Padded x [1, H, W, C] float32 -> payload: y = g_a(x), entropy-coded.

  g_a: any transform; coder: an `entropy.EntropyCoder` (the paper's
  factorized model, CAE-ADMM's fitted tables, ...).
  """

  def __init__(self, g_a, coder):
    super().__init__(name="latent_encoder")
    self.g_a = g_a
    self.coder = coder

  def __call__(self, x):
    return self.coder.encode(self.g_a(x))


class LatentDecoder(tf.Module):
  """Payload, latent [h, w] -> x_hat [1, H, W, C]: y_hat decoded, g_s."""

  def __init__(self, g_s, coder):
    super().__init__(name="latent_decoder")
    self.g_s = g_s
    self.coder = coder

  def latents(self, payload, latent_shape):
    """What the entropy decoder gives back: [y_hat]."""
    return [self.coder.decode(payload, latent_shape)]

  def __call__(self, payload, latent_shape):
    return self.g_s(self.coder.decode(payload, latent_shape))


class Compressor(tf.keras.Model):
  """uint8 image [H, W, C] -> complete bitstream (scalar tf.string).

  The one compressor of every system: pads x to the stride, codes it with
  the system's `encoder` (padded x [1, H', W', C] float32 -> payload) and
  puts the header in front (`bitstream.tf_pack`).
  """

  def __init__(self, encoder, channels, fingerprint, stride, magic):
    super().__init__(name="compressor")
    self.encoder = encoder
    self.channels = channels
    self.fingerprint = fingerprint
    self.stride = stride
    self.magic = magic
    self.compress = tf.function(self._compress, input_signature=[
        tf.TensorSpec((None, None, channels), tf.uint8, name="image")])

  def call(self, x):
    return self.compress(x)

  def _compress(self, x):
    height, width = tf.shape(x)[0], tf.shape(x)[1]
    payload = self.encoder(
        pad_to_stride(tf.cast(x, tf.float32), self.stride)[None])
    return bitstream.tf_pack(self.channels, self.fingerprint, height, width,
                             payload, self.magic)


class Decompressor(tf.keras.Model):
  """Complete bitstream (scalar tf.string) -> uint8 image [H, W, C].

  The one decompressor of every system: checks the header
  (`bitstream.tf_unpack`), decodes the payload with the system's `decoder`
  (payload, latent [h, w] -> x_hat [1, H', W', C]), crops and rounds.
  """

  def __init__(self, decoder, channels, fingerprint, stride, magic):
    super().__init__(name="decompressor")
    self.decoder = decoder
    self.channels = channels
    self.fingerprint = fingerprint
    self.stride = stride
    self.magic = magic
    self.decompress = tf.function(self._decompress, input_signature=[
        tf.TensorSpec((), tf.string, name="bitstream")])

  def call(self, data):
    return self.decompress(data)

  def _decompress(self, data):
    height, width, payload = bitstream.tf_unpack(
        data, self.channels, self.fingerprint, self.magic)
    latent_shape = (latent_side(height, self.stride),
                    latent_side(width, self.stride))
    x_hat = self.decoder(payload, latent_shape)[0, :height, :width]
    return tf.saturate_cast(tf.round(x_hat), tf.uint8)


def pad_to_stride(x, stride):
  """Pads [H, W, C] by edge replication to multiples of `stride`.

  Replicating edges costs fewer bits than zeros; the decoder crops back.
  """
  height, width = tf.shape(x)[0], tf.shape(x)[1]
  rows = tf.minimum(tf.range(latent_side(height, stride) * stride),
                    height - 1)
  cols = tf.minimum(tf.range(latent_side(width, stride) * stride), width - 1)
  return tf.gather(tf.gather(x, rows, axis=0), cols, axis=1)


class BaseCodec:
  """What the Keras codec and the cached SavedModels share: the system's
  names, the image checks before compressing and the header checks before
  decoding, around a compress and a decompress function (uint8 [H, W, C]
  -> scalar string, and back) that each kind provides."""

  system = None  # Its systems.System.
  max_pixels = images.MAX_PIXELS  # The largest image it codes.

  def _compress_function(self):
    raise NotImplementedError

  def _decompress_function(self):
    raise NotImplementedError

  @property
  def magic(self):
    return self.system.magic

  @property
  def method(self):
    """The name of the system, as evaluation results call it."""
    return self.system.name

  @property
  def description(self):
    return self.system.description

  def compress(self, x):
    """uint8 array [H, W, channels] -> bitstream bytes."""
    check_image(x, self.channels, self.max_pixels)
    return self._compress_function()(tf.constant(x)).numpy()

  def decompress(self, data, header=None):
    """Bitstream bytes -> uint8 array [H, W, channels].

    Raises a `bitstream.BitstreamError` subclass for any input that is not
    a bitstream of this model, including a payload that fails the range
    decoder's own check. header: `bitstream.unpack(data)`'s, if the caller
    has it (the header is then not parsed again).
    """
    return checked_decompress(self._decompress_function(), data,
                              self.fingerprint, self.magic, header)


class Codec(BaseCodec):
  """A loaded model as a codec: numpy images in, bytes out, and back.

  `decompress` checks the header in Python first, so bad input raises a
  `bitstream.BitstreamError` subclass naming the problem. Each system's
  codec sets `system` (its `systems.System`) and defines `make_codec` and
  `information_content`; nothing else carries state between the methods.
  """

  @property
  def metadata(self):
    return self.loaded.metadata

  def __init__(self, loaded):
    self.loaded = loaded
    self.model = loaded.model
    self.channels = loaded.model.channels
    self.fingerprint = loaded.fingerprint
    self.compressor, self.decompressor = self.make_codec(loaded)

  def make_codec(self, loaded):
    """(Compressor, Decompressor) of `loaded`, a model_file.LoadedModel."""
    raise NotImplementedError

  def information_content(self, x):
    """Bits the model assigns to what it codes of uint8 image x: the ideal
    payload length that the real payload is measured against."""
    raise NotImplementedError

  def _compress_function(self):
    return self.compressor.compress

  def _decompress_function(self):
    return self.decompressor.decompress


def check_image(x, channels, max_pixels):
  """Refuses what a codec cannot code: ValueError for a wrong array,
  images.ImageError for an image over the codec's size limit."""
  if x.ndim != 3 or x.shape[-1] != channels or x.dtype != "uint8":
    raise ValueError(f"expected a uint8 image [H, W, {channels}], "
                     f"got {x.dtype} {x.shape}.")
  height, width = x.shape[:2]
  if max(height, width) > 65535 or height * width > max_pixels:
    raise images.ImageError(
        f"{width}x{height} is larger than the codec's limit (sides up to "
        f"65535, at most {max_pixels} pixels).")


def checked_decompress(decompress, data, fingerprint, magic, header=None):
  """decompress(data) as uint8 array after checking the header in Python
  (or, given the header the caller parsed, only whose it is); a payload
  that fails the range decoder's check is CorruptBitstreamError."""
  if header is None:
    bitstream.unpack(data, fingerprint, magic)
  else:
    bitstream.check_written_by(header, fingerprint, magic)
  try:
    return decompress(tf.constant(data)).numpy()
  except (tf.errors.InvalidArgumentError, UnicodeDecodeError):
    # UnicodeDecodeError: an op refused the payload with a message that
    # quotes its bytes, which TensorFlow then fails to decode as text.
    raise bitstream.CorruptBitstreamError(
        "the payload does not decode (range decoder check failed)."
    ) from None


def load(name_or_path=None):
  """Codec for a model file path or a shipped model name (default model).

  The model file names its system; that system's registered codec opens it
  (`bls2017.core.systems`), so every command and the evaluation take the model
  file of any system.
  """
  path = catalog.resolve(name_or_path)
  try:
    system = systems.by_name(model_file.system_of(path))
  except systems.UnknownSystemError as e:
    raise model_file.ModelFileError(f"{path}: {e}") from None
  return system.open(path)

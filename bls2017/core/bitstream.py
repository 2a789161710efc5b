"""The `.tfci` bitstream: a 16-byte header followed by the range-coded latents.

Format version 1 (all integers big-endian):

    offset  size  field
         0     2  magic: the system's own ("BL" for the paper's model,
                  "CA" CAE-ADMM, "CW" content-weighted; `bls2017.core.systems`);
                  every system writes this header around its own payload
         2     1  format version: the system's (`System.format_version`;
                  1 for the paper's model and CAE-ADMM, 2 content-weighted)
         3     1  image channels (1 or 3)
         4     4  model fingerprint (first 4 bytes of SHA-256 over the model's
                  weights and range-coding tables)
         8     2  image height in pixels (1..65535)
        10     2  image width in pixels (1..65535)
        12     4  integrity check: first 4 bytes of TensorFlow's farmhash64
                  fingerprint (`tf.fingerprint`) of bytes 0..11 + payload
        16     -  payload: the range-coded latents y_hat of shape
                  [ceil(height / 16), ceil(width / 16), num_filters]

The header is packed and checked twice: in Python, so that the command line
names the problem before building any tensor, and inside the TensorFlow
graph (`tf_pack`, `tf_unpack`), so that exported SavedModels write and check
the same bytes without this package.
"""

import struct

import tensorflow as tf

from bls2017.core import systems
from bls2017.core.images import MAX_PIXELS

# The format version of magic bytes no system registered (tests' own).
VERSION = 1
_FIELDS = struct.Struct(">2sBB4sHH")  # Bytes 0..11.
CHECK_BYTES = 4
HEADER_BYTES = _FIELDS.size + CHECK_BYTES


class BitstreamError(ValueError):
  """A bitstream cannot be decoded; the message says why."""


class NotABitstreamError(BitstreamError):
  """The data is too short or does not start with the magic bytes."""


class UnsupportedVersionError(BitstreamError):
  """The bitstream's format version is not one this decoder reads."""


class CorruptBitstreamError(BitstreamError):
  """The integrity check failed: the file is corrupt or truncated."""


class WrongModelError(BitstreamError):
  """The bitstream was written by a different model, whose 4-byte
  fingerprint is `written_by`."""

  def __init__(self, message, written_by=None):
    super().__init__(message)
    self.written_by = written_by


class Header:
  """The decoded header fields."""

  def __init__(self, channels, fingerprint, height, width, magic=None):
    self.channels = channels
    self.fingerprint = fingerprint
    self.height = height
    self.width = width
    self.magic = magic


def checksum(data):
  """The 4-byte integrity check of `data` (bytes 0..11 plus payload)."""
  digest = tf.fingerprint(tf.constant([data]))[0, :CHECK_BYTES]
  return digest.numpy().tobytes()


# Plain Python, also when the in-graph header is traced: AutoGraph would
# otherwise try to convert the registry's entry-point discovery.
@tf.autograph.experimental.do_not_convert
def version_of(magic):
  """The format version of the system whose bitstreams start with `magic`."""
  system = systems.of_magic(magic)
  return system.format_version if system else VERSION


def _version_refusal(magic, version):
  """The one-line refusal of a file of another format version, naming the
  revision to decode it with where the system records one."""
  system = systems.of_magic(magic)
  revision = system and system.past_versions.get(version)
  where = (f"check out revision {revision} of this project (the last that "
           "wrote it) to decode it" if revision else
           "decode it with the release of this package that wrote it")
  return (f"unsupported bitstream format version {version} (this decoder "
          f"reads version {version_of(magic)}); {where}.")


def pack(header, payload, magic):
  """Returns the complete bitstream for `header` and `payload` (bytes)."""
  fields = _FIELDS.pack(magic, version_of(magic), header.channels,
                        header.fingerprint, header.height, header.width)
  return fields + checksum(fields + payload) + payload


def unpack(data, fingerprint=None, magic=None):
  """Checks a bitstream and returns (Header, payload).

  Raises a BitstreamError subclass naming the problem. If `fingerprint` is
  given, a bitstream written by any other model raises WrongModelError.
  magic: the system's 2 bytes; None accepts any registered system's.
  """
  expected = magic or bytes(data[:2])
  if magic is None and systems.name_of_magic(expected) is None:
    raise NotABitstreamError(
        "not a bitstream of any known system (bad magic bytes).")
  if data[:2] != expected:
    _refuse_magic(bytes(data[:2]), magic)
  if len(data) < HEADER_BYTES:
    raise NotABitstreamError(
        f"truncated bitstream: {len(data)} bytes, shorter than the "
        f"{HEADER_BYTES}-byte header.")
  magic, version, channels, model, height, width = _FIELDS.unpack_from(data)
  if version != version_of(magic):
    raise UnsupportedVersionError(_version_refusal(magic, version))
  fields, check = data[:_FIELDS.size], data[_FIELDS.size:HEADER_BYTES]
  payload = data[HEADER_BYTES:]
  if checksum(fields + payload) != check:
    raise CorruptBitstreamError(
        "integrity check failed: the bitstream is corrupt or truncated.")
  if fingerprint is not None:
    _refuse_model(model, fingerprint)
  if channels not in (1, 3) or not height or not width or (
      height * width > MAX_PIXELS):
    raise CorruptBitstreamError(
        f"invalid image geometry {height}x{width}x{channels} (at most "
        f"{MAX_PIXELS} pixels).")
  return Header(channels, model, height, width, magic), payload


def check_written_by(header, fingerprint, magic):
  """For a header that `unpack(data)` returned: raises what
  `unpack(data, fingerprint, magic)` would, if the bitstream is not of
  this system and this model; so the header is parsed only once."""
  if header.magic != magic:
    _refuse_magic(header.magic, magic)
  _refuse_model(header.fingerprint, fingerprint)


def _refuse_magic(found, magic):
  other = systems.name_of_magic(found)
  raise NotABitstreamError(
      f"not a {systems.name_of_magic(magic)} bitstream (" +
      (f"written by {other})." if other else "bad magic bytes)."))


def _refuse_model(model, fingerprint):
  if model != fingerprint:
    raise WrongModelError(
        f"bitstream was written by model {model.hex()}, but the loaded "
        f"model is {fingerprint.hex()}; pass the model that wrote it.",
        written_by=model)


# Single-byte strings 0x00..0xff: TensorFlow has no op that turns integers
# into raw bytes, so bytes are looked up in this table and joined.
_BYTE_STRINGS = [bytes([i]) for i in range(256)]


def tf_bytes(values):
  """In-graph: the bytes of int `values` (0..255) as one scalar string."""
  table = tf.constant(_BYTE_STRINGS)
  return tf.strings.reduce_join(tf.gather(table, tf.cast(values, tf.int32)))


def _tf_checksum(data):
  return tf_bytes(tf.fingerprint(data[None])[0, :CHECK_BYTES])


def tf_pack(channels, fingerprint, height, width, payload, magic):
  """In-graph `pack`: height and width are int32 scalars, payload a string."""
  sides = tf.stack([height // 256, height % 256, width // 256, width % 256])
  fields = magic + bytes([version_of(magic), channels]) + fingerprint
  fields = tf.constant(fields) + tf_bytes(sides)
  return fields + _tf_checksum(fields + payload) + payload


def tf_unpack(data, channels, fingerprint, magic):
  """In-graph `unpack`: returns (height, width, payload) after checking.

  A failed check raises tf.errors.InvalidArgumentError with the same
  wording as the Python checks.
  """
  length = tf.strings.length(data)
  _tf_check(length >= HEADER_BYTES, "truncated bitstream")
  fields = tf.strings.substr(data, 0, _FIELDS.size)
  check = tf.strings.substr(data, _FIELDS.size, CHECK_BYTES)
  payload = tf.strings.substr(data, HEADER_BYTES, length - HEADER_BYTES)
  _tf_check(tf.strings.substr(fields, 0, 2) == magic,
            f"not a {systems.name_of_magic(magic)} bitstream (bad magic "
            "bytes)")
  _tf_check(tf.strings.substr(fields, 2, 1) == bytes([version_of(magic)]),
            "unsupported bitstream format version")
  _tf_check(_tf_checksum(fields + payload) == check,
            "integrity check failed: the bitstream is corrupt or truncated")
  _tf_check(tf.strings.substr(fields, 3, 5) == bytes([channels]) + fingerprint,
            "bitstream was written by a different model")
  sides = tf.io.decode_raw(tf.strings.substr(fields, 8, 4), tf.uint16,
                           little_endian=False)
  sides = tf.cast(sides, tf.int64)
  _tf_check(tf.reduce_all(sides > 0) & (sides[0] * sides[1] <= MAX_PIXELS),
            "invalid image geometry")
  sides = tf.cast(sides, tf.int32)
  return sides[0], sides[1], payload


def _tf_check(condition, message):
  # Only the message goes into the error: tf.debugging.assert_equal would
  # print the compared bytes, which need not be valid UTF-8.
  tf.debugging.Assert(condition, [message])

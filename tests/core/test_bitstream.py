"""The .tfci format: layout, Python/graph agreement, and every rejection."""

import pytest
import tensorflow as tf

from bls2017.core import bitstream
from bls2017.paper import SYSTEM

MAGIC = SYSTEM.magic  # b"BL"

HEADER = bitstream.Header(channels=3, fingerprint=b"\x01\x02\x03\x04",
                          height=321, width=481)
PAYLOAD = bytes(range(200)) * 3


def test_header_is_16_bytes_and_documented_layout():
  data = bitstream.pack(HEADER, PAYLOAD, MAGIC)
  assert bitstream.HEADER_BYTES == 16
  assert len(data) == 16 + len(PAYLOAD)
  assert data[:4] == b"BL\x01\x03"
  assert data[4:8] == HEADER.fingerprint
  assert data[8:12] == (321).to_bytes(2, "big") + (481).to_bytes(2, "big")
  assert data[16:] == PAYLOAD


def test_unpack_round_trip():
  header, payload = bitstream.unpack(bitstream.pack(HEADER, PAYLOAD, MAGIC),
                                     HEADER.fingerprint)
  assert (header.channels, header.fingerprint, header.height,
          header.width) == (3, HEADER.fingerprint, 321, 481)
  assert payload == PAYLOAD


@pytest.mark.parametrize("height,width", [(1, 1), (321, 481), (65535, 1)])
def test_graph_pack_matches_python_pack(height, width):
  header = bitstream.Header(3, HEADER.fingerprint, height, width)
  graph = bitstream.tf_pack(3, HEADER.fingerprint, tf.constant(height),
                            tf.constant(width), tf.constant(PAYLOAD), MAGIC)
  assert graph.numpy() == bitstream.pack(header, PAYLOAD, MAGIC)
  h, w, payload = bitstream.tf_unpack(graph, 3, HEADER.fingerprint, MAGIC)
  assert (int(h), int(w), payload.numpy()) == (height, width, PAYLOAD)


def _variants():
  good = bitstream.pack(HEADER, PAYLOAD, MAGIC)
  flipped = bytearray(good)
  flipped[100] ^= 0x10
  version = bytearray(good)
  version[2] = 7
  huge = bitstream.pack(bitstream.Header(3, HEADER.fingerprint, 65535, 65535),
                        PAYLOAD, MAGIC)
  return {
      "empty": (b"", bitstream.NotABitstreamError, "bad magic"),
      "png": (b"\x89PNG\r\n\x1a\n" + bytes(20), bitstream.NotABitstreamError,
              "bad magic"),
      "header only part": (good[:10], bitstream.NotABitstreamError,
                           "truncated"),
      "truncated payload": (good[:-5], bitstream.CorruptBitstreamError,
                            "integrity"),
      "extended": (good + b"\x00", bitstream.CorruptBitstreamError,
                   "integrity"),
      "bit flip": (bytes(flipped), bitstream.CorruptBitstreamError,
                   "integrity"),
      "version": (bytes(version), bitstream.UnsupportedVersionError,
                  "version 7"),
      "huge": (huge, bitstream.CorruptBitstreamError, "at most"),
  }


@pytest.mark.parametrize("case", list(_variants()))
def test_python_rejects(case):
  data, error, words = _variants()[case]
  with pytest.raises(error, match=words):
    bitstream.unpack(data, HEADER.fingerprint, MAGIC)


@pytest.mark.parametrize("case", list(_variants()))
def test_graph_rejects(case):
  data, _, _ = _variants()[case]
  with pytest.raises(tf.errors.InvalidArgumentError):
    bitstream.tf_unpack(tf.constant(data), 3, HEADER.fingerprint,
                         MAGIC)


def test_wrong_model_is_named():
  data = bitstream.pack(HEADER, PAYLOAD, MAGIC)
  with pytest.raises(bitstream.WrongModelError, match="01020304") as raised:
    bitstream.unpack(data, b"\x09\x09\x09\x09")
  assert raised.value.written_by == b"\x01\x02\x03\x04"
  with pytest.raises(tf.errors.InvalidArgumentError, match="different model"):
    bitstream.tf_unpack(tf.constant(data), 3, b"\x09\x09\x09\x09", MAGIC)


def test_without_a_magic_any_registered_system_is_read():
  """unpack(magic=None) reads the header of any registered system's
  bitstream (how `decompress` finds the shipped model that wrote a file)
  and names an unknown magic."""
  for magic in (b"BL", b"CA", b"CW"):
    header, payload = bitstream.unpack(bitstream.pack(HEADER, PAYLOAD, magic))
    assert (header.fingerprint, payload) == (HEADER.fingerprint, PAYLOAD)
  with pytest.raises(bitstream.NotABitstreamError, match="any known system"):
    bitstream.unpack(bitstream.pack(HEADER, PAYLOAD, b"ZZ"))
  with pytest.raises(bitstream.NotABitstreamError, match="written by cae_admm"):
    bitstream.unpack(bitstream.pack(HEADER, PAYLOAD, b"CA"), magic=MAGIC)


def test_a_parsed_header_is_checked_as_unpack_would_check_it():
  """check_written_by(unpack(data)[0], ...) raises what unpack(data,
  fingerprint, magic) raises: a decoder given the header parses it once."""
  import cae_admm  # pylint: disable=import-outside-toplevel
  data = bitstream.pack(HEADER, PAYLOAD, MAGIC)
  header, _ = bitstream.unpack(data)
  assert header.magic == MAGIC
  bitstream.check_written_by(header, HEADER.fingerprint, MAGIC)
  for fingerprint, magic, error in (
      (b"\0" * 4, MAGIC, bitstream.WrongModelError),
      (HEADER.fingerprint, cae_admm.SYSTEM.magic,
       bitstream.NotABitstreamError)):
    with pytest.raises(error) as from_unpack:
      bitstream.unpack(data, fingerprint, magic)
    with pytest.raises(error) as from_header:
      bitstream.check_written_by(header, fingerprint, magic)
    assert str(from_header.value) == str(from_unpack.value)

"""Content-weighted compression: mask, quantizer, context model, codec."""


import numpy as np
import pytest
import tensorflow as tf

from bls2017.core import codec as shared_codec, model_file
from helpers.commands import (assert_cli_refuses_bad_bitstreams,
                         assert_exported_codec_round_trips,
                         run_main)
from helpers.models import load_and_round_trip, save_with_fitted_tables
from content_weighted import cli, context, importance, planes, sequential
from content_weighted import codec as cw_codec
from content_weighted.model import ContentWeightedModel
from helpers.synthetic import synthetic_image, write_training_images


def test_mask_is_monotone_in_p_and_keeps_ceil_l_p_groups():
  p = tf.constant(np.linspace(0, 1, 101, dtype=np.float32)[:, None])
  mask = importance.importance_mask(p, levels=4, channels=8).numpy()
  assert np.all(np.diff(mask, axis=0) >= 0)  # Larger p never drops a code.
  np.testing.assert_array_equal(mask.sum(1), 2 * np.ceil(4 * p.numpy()[:, 0]))
  # Groups are kept first to last: each row is ones, then zeros.
  assert np.all(np.diff(mask, axis=1) <= 0)
  with tf.GradientTape() as tape:
    tape.watch(p)
    total = tf.reduce_sum(importance.importance_mask(p, 4, 8))
  gradient = tape.gradient(total, p).numpy()
  assert np.all(gradient >= 0) and gradient.sum() > 0


def test_band_gradient_reaches_the_first_dropped_group():
  p = tf.constant([[0.3]])  # L p = 1.2 with L = 4: groups 0 and 1 kept.
  rows = {}
  for gradient in importance.MASK_GRADIENTS:
    with tf.GradientTape() as tape:
      tape.watch(p)
      mask = importance.importance_mask(p, 4, 8, gradient)
    np.testing.assert_array_equal(mask, [[1, 1, 1, 1, 0, 0, 0, 0]])
    rows[gradient] = tape.jacobian(mask, p).numpy().reshape(8)
  # dm/dp = L on the last kept group (channels 2, 3) in both; "band" also
  # on the first dropped one (channels 4, 5), so a distortion that would
  # fall with that group switched on pushes p up.
  np.testing.assert_array_equal(rows["band"], [0, 0, 4, 4, 4, 4, 0, 0])
  np.testing.assert_array_equal(rows["last_group"], [0, 0, 4, 4, 0, 0, 0, 0])
  with pytest.raises(ValueError, match="mask_gradient"):
    ContentWeightedModel(mask_gradient="ramp")


def test_relaxed_mask_scales_the_last_group_by_its_covered_share():
  p = tf.constant([[0.3], [0.5], [1.0]])  # L p = 1.2, 2 and 4 with L = 4.
  with tf.GradientTape() as tape:
    tape.watch(p)
    mask = importance.relaxed_mask(p, 4, 8)
    total = tf.reduce_sum(mask)
  np.testing.assert_allclose(mask, [[1, 1, .2, .2, 0, 0, 0, 0],
                                    [1, 1, 1, 1, 0, 0, 0, 0],
                                    [1] * 8], atol=1e-6)
  # Where L p is whole the relaxed mask is the binary one; its sum is
  # (channels / L) * L p, so the rate proxy follows p without a surrogate.
  np.testing.assert_array_equal(mask[1:], importance.importance_mask(
      p[1:], 4, 8))
  np.testing.assert_allclose(tf.reduce_sum(mask, 1), 2 * 4 * p[:, 0],
                             rtol=1e-6)
  # d(sum)/dp = channels per group * L where L p is not whole.
  np.testing.assert_allclose(tape.gradient(total, p)[0], [8])


def test_two_stage_training_switches_to_the_binary_mask_on_its_step():
  model = ContentWeightedModel(num_filters=8, code_channels=4, groups=2,
                               num_levels=4, relaxed_until=3)
  model.compile(optimizer=tf.keras.optimizers.Adam())
  p = tf.constant([[[[0.3]]]])  # L p = 0.6: group 0 kept, scaled 0.6.
  relaxed = [0.6, 0.6, 0, 0]
  binary = [1, 1, 0, 0]
  for step, expected in [(0, relaxed), (2, relaxed), (3, binary),
                         (10, binary)]:
    model.optimizer.iterations.assign(step)
    np.testing.assert_allclose(
        model.training_mask(p, training=True)[0, 0, 0], expected, atol=1e-6)
  model.optimizer.iterations.assign(0)
  # Coding and evaluation always see the binary mask.
  np.testing.assert_array_equal(model.training_mask(p, training=False)[0, 0, 0],
                                binary)
  model.relaxed_until = None  # Single-stage: binary from the first step.
  np.testing.assert_array_equal(model.training_mask(p, training=True)[0, 0, 0],
                                binary)


def test_quantizer_maps_to_nearest_learned_level():
  quantizer = importance.ChannelQuantizer(3, 5)
  e = tf.constant([[[0.0, 0.3, 0.9], [0.12, 0.13, 1.0]]])
  codes = quantizer.indices(e).numpy()
  np.testing.assert_array_equal(codes, [[[0, 1, 4], [0, 1, 4]]])
  with tf.GradientTape() as tape:
    tape.watch(e)
    out = quantizer(e)
  np.testing.assert_allclose(out, quantizer.dequantize(codes))
  np.testing.assert_array_equal(tape.gradient(out, e), np.ones(e.shape))


def test_kernel_masks_see_only_earlier_planes():
  a, b = context.kernel_mask(5, False), context.kernel_mask(3, True)
  offsets = np.arange(5) - 2
  total = offsets[:, None, None] + offsets[None, :, None] + offsets[None, None]
  assert np.array_equal(a, total < 0) and not a[2, 2, 2]
  assert b[1, 1, 1] and not b[2, 1, 1] and b[0, 2, 1]


def test_context_model_is_causal_in_plane_order():
  tf.keras.utils.set_random_seed(0)
  model = context.ContextModel(num_levels=4, filters=6)
  rng = np.random.default_rng(0)
  shape = (1, 5, 6, 4)  # [B, H, W, C]
  codes = rng.integers(0, 4, shape).astype(np.int32)
  mask = np.ones(shape, np.float32)
  planes = context.plane_index(5, 6, 4).numpy()
  base = context.logits_hwc(model, codes, mask, 4).numpy()[0]
  for t in (2, 6, 10):
    changed = codes.copy()
    later = planes >= t
    changed[0][later] = (changed[0][later] + 1 + rng.integers(0, 3, later.sum())) % 4
    logits = context.logits_hwc(model, changed, mask, 4).numpy()[0]
    # Plane t itself is decoded in parallel: it must not see its own codes.
    np.testing.assert_array_equal(logits[planes <= t], base[planes <= t])
    assert not np.array_equal(logits[planes > t], base[planes > t])


def _random_context(num_levels=8, seed=0):
  tf.keras.utils.set_random_seed(seed)
  model = context.ContextModel(num_levels, filters=6)
  model.build((None, None, None, None, 2))
  for bias in (v for v in model.weights if "bias" in v.name):
    bias.assign(tf.random.normal(bias.shape, stddev=0.5))
  rng = np.random.default_rng(seed)
  shape = (6, 5, 8)  # [h, w, C]
  codes = rng.integers(0, num_levels, shape).astype(np.int32)
  mask = (rng.random(shape) < 0.6).astype(np.float32)
  return model, codes, mask


def test_sequential_coder_predicts_what_the_context_model_predicts():
  model, codes, mask = _random_context()
  coder = sequential.SequentialCoder(model, mask)
  c, i, j = coder.order.T
  # Coding order: kept codes only, plane by plane.
  assert len(c) == mask.sum() and np.all(np.diff(c + i + j) >= 0)
  logits = context.logits_hwc(model, codes[None], mask[None], 8)[0]
  expected = tf.nn.softmax(tf.gather_nd(logits, np.stack([i, j, c], 1)))
  np.testing.assert_allclose(coder.probabilities(codes), expected, atol=1e-6)


def test_sequential_round_trip_is_bit_exact_at_the_information_content():
  model, codes, mask = _random_context(seed=1)
  encoder = sequential.SequentialCoder(model, mask)
  data = encoder.encode(codes)
  decoded = sequential.SequentialCoder(model, mask).decode(data)
  np.testing.assert_array_equal(decoded, codes * (mask > 0))
  c, i, j = encoder.order.T
  probabilities = encoder.probabilities(codes)
  bits = -np.log2(probabilities[np.arange(len(c)), codes[i, j, c]]).sum()
  # One stream: the information content plus the coder's last words.
  assert bits / 8 <= len(data) <= bits / 8 + 8
  other = codes.copy()
  other[i[-1], j[-1], c[-1]] = (other[i[-1], j[-1], c[-1]] + 1) % 8
  assert encoder.encode(other) != data


def test_plane_windows_predict_what_the_whole_volume_predicts():
  """The coder's per-plane windows give the whole-volume pass's logits at
  every kept code, and nothing where codes are dropped."""
  model, codes, mask = _random_context(seed=2)
  coder = planes.PlaneCoder(model, 8)
  logits = coder.logits(codes, mask).numpy()
  volume = context.logits_hwc(model, codes[None], mask[None], 8)[0].numpy()
  kept = mask > 0
  np.testing.assert_allclose(logits[kept], volume[kept], atol=1e-5)
  assert not np.any(logits[~kept])


def test_plane_coder_round_trip_is_bit_exact_in_a_graph():
  model, codes, mask = _random_context(seed=3)
  coder = planes.PlaneCoder(model, 8)
  strings = tf.function(coder.encode)(codes, mask)
  assert strings.shape == (6 + 5 + 8 - 2,)  # One string per plane.
  # The graph writes what eager execution writes (same shapes, same ops).
  np.testing.assert_array_equal(strings, coder.encode(codes, mask))
  decoded = tf.function(coder.decode)(strings, mask)
  np.testing.assert_array_equal(decoded, codes * (mask > 0))
  # Codes the mask drops are not coded: changing them changes nothing.
  changed = np.where(mask > 0, codes, (codes + 1) % 8)
  np.testing.assert_array_equal(coder.encode(changed, mask), strings)


def _random_map_context(seed=0, groups=4):
  """A context model with its map head, codes [h, w, C] and levels k
  [h, w] in 0 .. L (L = groups) with the mask they give."""
  model, codes, _ = _random_context(seed=seed)
  head = context.map_head(groups + 1)
  head(tf.zeros([1, 1, 1, 1, 6]))  # Builds it.
  head.bias.assign(tf.random.normal(head.bias.shape, stddev=0.5))
  k = np.random.default_rng(seed).integers(0, groups + 1, codes.shape[:2])
  mask = importance.group_mask(k[..., None], groups, codes.shape[-1])
  return model, head, codes, k.astype(np.int32), mask.numpy()


def test_map_planes_predict_what_the_whole_volume_predicts():
  """With the map as slice 0, the plane coder's windows give the whole-
  volume pass's logits for every level and every kept code."""
  model, head, codes, k, mask = _random_map_context(seed=4)
  coder = planes.MapPlaneCoder(model, 8, head)
  code_logits, map_logits = coder.logits(codes, k)
  volume_codes, volume_map = context.volume_logits(
      model, head, codes[None], mask[None], k[None, ..., None], 8)
  kept = mask > 0
  np.testing.assert_allclose(code_logits.numpy()[kept],
                             volume_codes[0].numpy()[kept], atol=1e-5)
  np.testing.assert_allclose(map_logits, volume_map[0], atol=1e-5)
  assert not np.any(code_logits.numpy()[~kept])


def test_map_plane_coder_round_trip_is_bit_exact_in_a_graph():
  model, head, codes, k, mask = _random_map_context(seed=5)
  coder = planes.MapPlaneCoder(model, 8, head)
  strings = tf.function(coder.encode)(codes, k)
  assert strings.shape == (6 + 5 + 8 - 1,)  # The map's slice adds a plane.
  np.testing.assert_array_equal(strings, coder.encode(codes, k))
  decoded, levels = tf.function(coder.decode)(strings, codes.shape)
  np.testing.assert_array_equal(levels, k)
  np.testing.assert_array_equal(decoded, codes * (mask > 0))
  # Dropped codes are not coded; the levels are.
  changed = np.where(mask > 0, codes, (codes + 1) % 8)
  np.testing.assert_array_equal(coder.encode(changed, k), strings)
  other = k.copy()
  other[-1, -1] = (other[-1, -1] + 1) % 5
  assert not np.array_equal(coder.encode(codes, other), strings)
  # The planes cost the information content plus a few bytes each.
  code_logits, map_logits = coder.logits(codes, k)
  kept = mask > 0
  bits = (-np.sum(tf.nn.log_softmax(code_logits)[kept].numpy()[
      np.arange(kept.sum()), codes[kept]]) - np.sum(np.take_along_axis(
          tf.nn.log_softmax(map_logits).numpy(), k[..., None], -1))) / np.log(2)
  size = sum(len(s) for s in strings.numpy())
  assert bits / 8 - 1 <= size <= bits / 8 + 4 * len(strings)


def test_map_sequential_coder_round_trip_is_bit_exact_at_the_planes_rate():
  model, head, codes, k, mask = _random_map_context(seed=6)
  coder = sequential.MapSequentialCoder(model, head, codes.shape)
  data = coder.encode(codes, k)
  decoded, levels = sequential.MapSequentialCoder(
      model, head, codes.shape).decode(data)
  np.testing.assert_array_equal(levels, k)
  np.testing.assert_array_equal(decoded, codes * (mask > 0))
  # One stream at about the planes' size (their information content).
  strings = planes.MapPlaneCoder(model, 8, head).encode(codes, k)
  planes_size = sum(len(s) for s in strings.numpy())
  assert abs(len(data) - planes_size) <= 4 * len(strings)
  other = k.copy()
  other[0, 0] = (other[0, 0] + 1) % 5
  assert coder.encode(codes, other) != data


def test_map_head_trains_on_the_maps_bits_and_only_the_context_model():
  model = ContentWeightedModel(num_filters=8, code_channels=4, groups=2,
                               num_levels=4, map_model="context")
  x = tf.constant(synthetic_image(32, 32)[None], tf.float32)
  with tf.GradientTape(persistent=True) as tape:
    e, p = model.analyse(x)
    codes, k = model.quantizer.indices(e), model.importance_levels(p)
    code_bits, map_bits = model.context_bits_split(codes, model.mask(k), k)
  assert map_bits[0] > 0 and code_bits[0] > 0
  # The map's cross-entropy reaches its head and the shared layers, not
  # the encoder: k is an integer.
  assert tf.reduce_any(tape.gradient(map_bits, model.map_head.kernel) != 0)
  assert tape.gradient(map_bits, model.g_a.trainable_variables[0]) is None
  terms = model.loss_terms(x)
  pixels = 32 * 32
  np.testing.assert_allclose(terms["context_bpp"],
                             (code_bits[0] + map_bits[0]) / pixels, rtol=1e-5)
  with pytest.raises(ValueError, match="map_model"):
    ContentWeightedModel(map_model="raster")


def test_quantized_cdfs_are_valid_range_coder_tables():
  logits = tf.constant([[0.0, 0, 0, 0], [50, -50, 0, 3], [-1e4, 1e4, 0, 0]])
  cdf = context.quantized_cdf(logits).numpy()
  assert np.all(cdf[:, 0] == 0) and np.all(cdf[:, -1] == 2**16)
  assert np.all(np.diff(cdf, axis=1) >= 1)  # No value is impossible.


def _model_file(path, importance_map=True, seed=0, transform="gdn"):
  return save_with_fitted_tables(
      lambda: ContentWeightedModel(num_filters=8, code_channels=4, groups=2,
                                   num_levels=4,
                                   importance_map=importance_map,
                                   transform=transform),
      path, cw_codec.fitted_tables, seed)


@pytest.fixture(scope="module")
def cw_path(tmp_path_factory):
  return _model_file(tmp_path_factory.mktemp("cw") / "cw.npz")


def test_round_trip_is_bit_exact(cw_path):
  codec, x, data, x_hat = load_and_round_trip(cw_path, cw_codec.Codec,
                                              37, 29)
  assert data[:2] == b"CW"
  # The decoder rebuilt exactly the encoder's codes and importance map.
  codes, k, _ = codec.codes(x)
  expected = codec.model.synthesize(codes[None], k[None])[0, :37, :29]
  np.testing.assert_array_equal(
      x_hat, tf.saturate_cast(tf.round(expected), tf.uint8))
  context_bits = codec.information_content(x)
  factorized_bits = codec.information_content(x, codes_model="factorized")
  assert context_bits > 0 and factorized_bits > 0


@pytest.mark.slow
def test_map_in_the_planes_round_trips_without_a_map_string(tmp_path):
  path = save_with_fitted_tables(
      lambda: ContentWeightedModel(num_filters=8, code_channels=4, groups=2,
                                   num_levels=4, map_model="context"),
      tmp_path / "map.npz", cw_codec.fitted_tables)
  codec, x, data, x_hat = load_and_round_trip(path, cw_codec.Codec, 37, 29)
  assert codec.model.map_model == "context"
  codes, k, _ = codec.codes(x)
  expected = codec.model.synthesize(codes[None], k[None])[0, :37, :29]
  np.testing.assert_array_equal(
      x_hat, tf.saturate_cast(tf.round(expected), tf.uint8))
  # Payload: 2-byte lengths of C + h + w - 1 = 4 + 5 + 4 - 1 planes, then
  # the planes; no 4-byte map length or map string.
  from bls2017.core import bitstream
  _, payload = bitstream.unpack(data)
  lengths = np.frombuffer(payload[:24], ">u2")
  assert len(payload) == 24 + lengths.sum()
  bits = codec.map_bits(x)
  assert set(bits) == {"factorized", "context"} and bits["context"] > 0
  # Code by code: the same codes and levels, one stream, no map string.
  map_string, stream = sequential.compress(codec, x)
  assert map_string == b""
  decoded, image = sequential.decompress(codec, map_string, stream, 37, 29)
  np.testing.assert_array_equal(image, x_hat)
  np.testing.assert_array_equal(decoded,
                                codes.numpy() * codec.model.mask(k).numpy())


@pytest.mark.slow
def test_dense_block_transforms_keep_the_stride_and_round_trip(tmp_path):
  import content_weighted  # pylint: disable=import-outside-toplevel
  from content_weighted import model as model_lib  # pylint: disable=import-outside-toplevel
  assert tuple(model_lib.TRANSFORMS) == content_weighted.TRANSFORMS
  with pytest.raises(ValueError, match="transform"):
    ContentWeightedModel(transform="resnet")
  path = _model_file(tmp_path / "dense.npz", transform="dense")
  codec, x, _, x_hat = load_and_round_trip(path, cw_codec.Codec, 37, 29)
  assert codec.model.transform == "dense"
  assert any("dense_2/fuse" in v.name for v in codec.model.g_s.weights)
  codes, k, _ = codec.codes(x)
  assert codes.shape[:2] == (5, 4)  # 37 x 29, padded to 40 x 32: / 8.
  expected = codec.model.synthesize(codes[None], k[None])[0, :37, :29]
  np.testing.assert_array_equal(
      x_hat, tf.saturate_cast(tf.round(expected), tf.uint8))


def test_dense_block_starts_near_the_identity_and_keeps_its_width():
  from content_weighted import model as model_lib  # pylint: disable=import-outside-toplevel
  block = model_lib.DenseBlock(6, depth=3, growth=4)
  x = tf.random.stateless_normal([2, 5, 7, 6], [0, 1])
  y = block(x)
  assert y.shape == x.shape
  # Each layer sees the input and every earlier output: widths 6, 10, 14.
  assert [layer.kernel.shape[2] for layer in block.layers_] == [6, 10, 14]
  assert block.fuse.kernel.shape[2] == 6 + 3 * 4
  block.fuse.kernel.assign(tf.zeros_like(block.fuse.kernel))
  np.testing.assert_allclose(block(x), x + block.fuse.bias, rtol=1e-6)


@pytest.mark.slow
def test_sequential_decoding_gives_the_files_image(cw_path):
  codec = cw_codec.load(cw_path)
  x = synthetic_image(37, 29)
  map_string, data = sequential.compress(codec, x)
  codes, x_hat = sequential.decompress(codec, map_string, data, 37, 29)
  kept, _, mask = codec.codes(x)
  np.testing.assert_array_equal(codes, kept.numpy() * mask.numpy())
  np.testing.assert_array_equal(x_hat, codec.decompress(codec.compress(x)))


@pytest.mark.slow
def test_corrupt_and_foreign_bitstreams_are_refused(cw_path, rgb_model_path):
  from bls2017.core import bitstream
  codec = cw_codec.load(cw_path)
  data = codec.compress(synthetic_image(16, 24))
  with pytest.raises(bitstream.CorruptBitstreamError):
    codec.decompress(data[:-1])
  with pytest.raises(bitstream.NotABitstreamError, match="content_weighted"):
    codec.decompress(shared_codec.load(rgb_model_path).compress(
        synthetic_image(16, 16)))


def test_files_of_the_whole_volume_format_are_refused(cw_path):
  """Version 1 files (CDFs from whole-volume passes) would decode wrongly
  under the windows' CDFs: the header's version refuses them."""
  from bls2017.core import bitstream
  codec = cw_codec.load(cw_path)
  data = codec.compress(synthetic_image(16, 24))
  assert data[2] == 2 == bitstream.version_of(b"CW")
  assert bitstream.version_of(b"BL") == 1
  header, payload = bitstream.unpack(data)
  old = bytearray(data)
  old[2] = 1
  old[12:16] = bitstream.checksum(bytes(old[:12]) + payload)
  with pytest.raises(bitstream.UnsupportedVersionError,
                     match="version 1 .this decoder reads version 2"):
    codec.decompress(bytes(old))
  assert header.height == 16


def test_without_importance_map_the_map_network_is_frozen():
  sizes = dict(num_filters=8, code_channels=4, groups=2, num_levels=4)
  with_map = ContentWeightedModel(**sizes)
  without = ContentWeightedModel(**sizes, importance_map=False)
  frozen = {v.name for v in without.importance_net.weights}
  assert frozen and frozen <= {v.name for v in with_map.trainable_variables}
  assert not frozen & {v.name for v in without.trainable_variables}
  assert len(without.weights) == len(with_map.weights)


@pytest.mark.slow
def test_without_importance_map_every_code_is_kept(tmp_path):
  codec = cw_codec.load(_model_file(tmp_path / "nomap.npz",
                                    importance_map=False))
  x = synthetic_image(24, 24)
  _, k, mask = codec.codes(x)
  assert np.all(k.numpy() == 2) and np.all(mask.numpy() == 1)
  assert codec.decompress(codec.compress(x)).shape == x.shape


@pytest.mark.slow
def test_cached_export_writes_the_current_format(cw_path, tmp_path,
                                                 monkeypatch):
  """The commands' cached SavedModels are keyed by the format version, so
  an export made by an older plane coder is never used; the export writes
  the Keras codec's bytes."""
  from bls2017.core import saved_codec
  monkeypatch.setenv("BLS2017_CACHE", str(tmp_path / "cache"))
  saved = saved_codec.open_codec(str(cw_path))
  assert f"-v2-tf{tf.__version__}-" in saved.entry
  x = synthetic_image(24, 32)
  data = saved.compress(x)
  assert data == cw_codec.load(cw_path).compress(x)
  np.testing.assert_array_equal(saved.decompress(data),
                                cw_codec.load(cw_path).decompress(data))


@pytest.mark.slow
def test_export_savedmodels(cw_path, tmp_path):
  codec = cw_codec.load(cw_path)
  assert_exported_codec_round_trips(codec, tmp_path / "out",
                                    synthetic_image(24, 40))


@pytest.mark.slow
def test_train_command(tmp_path):
  pattern = write_training_images(tmp_path / "train", [(48, 48), (48, 56)])
  model_path = tmp_path / "cw.npz"
  assert run_main(
      cli, "content_weighted", "train", "--train_glob",
      pattern, "--model_path", model_path,
      "--num_filters", "8", "--code_channels", "4", "--groups", "2",
      "--num_levels", "4", "--patchsize", "32", "--batchsize", "2",
      "--epochs", "1", "--steps_per_epoch", "3", "--seed", "0",
      "--verbose", "0", "--noimportance_map",
      "--mask_gradient", "last_group", "--relaxed_fraction", "0.5",
      "--transform", "dense") == 0
  loaded = model_file.load(str(model_path), ContentWeightedModel)
  assert loaded.model.importance_map is False
  assert loaded.model.mask_gradient == "last_group"
  # Half of the 3 steps on the relaxed mask: round(1.5) = 2.
  assert (loaded.model.relaxed_until, loaded.model.transform) == (2, "dense")
  assert loaded.metadata["steps"] == 3
  assert np.isfinite(loaded.metadata["final_train_context_bpp"])


def test_train_refuses_a_relaxed_fraction_outside_0_1(tmp_path, capsys):
  pattern = write_training_images(tmp_path / "train", [(48, 48)])
  assert run_main(cli, "content_weighted", "train", "--train_glob", pattern,
                  "--model_path", tmp_path / "cw.npz",
                  "--relaxed_fraction", "1.0") == 1
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "--relaxed_fraction must be in" in err
  assert not (tmp_path / "cw.npz").exists()


@pytest.mark.slow
def test_ablation_reports_both_entropy_models(cw_path, tmp_path):
  from content_weighted import ablation
  from bls2017.docs import tables
  from PIL import Image
  Image.fromarray(synthetic_image(40, 48)).save(tmp_path / "a.png")
  results = ablation.run([cw_codec.load(cw_path)], ["cw"],
                         [str(tmp_path / "a.png")], str(tmp_path / "a.json"))
  figures = results["cw"]
  assert 0 < figures["kept_fraction"] <= 1
  assert figures["context_bpp"] > 0 and figures["factorized_bpp"] > 0
  # The file holds at least the information content, plus framing.
  assert figures["bpp"] > figures["context_bpp"]
  assert figures["sequential_file_bpp"] > figures["context_bpp"]
  assert figures["slanted_decode_s"] > 0 and figures["sequential_decode_s"] > 0
  # 40x48 pixels: a 5x6 grid of 4 code channels.
  assert figures["kept_codes"] == pytest.approx(
      figures["kept_fraction"] * 5 * 6 * 4)
  assert figures["steps"] == cw_codec.load(cw_path).loaded.metadata.get(
      "steps")
  # SSIM beside PSNR; MS-SSIM needs sides of 161 pixels, so NaN here.
  assert 0 < figures["ssim"] <= 1 and np.isnan(figures["ms_ssim"])
  assert (figures["transform"], figures["relaxed_until"]) == ("gdn", None)
  row = tables.cw_decoder_table(results, {"cw": "the model"}).splitlines()[2]
  assert row.startswith("| the model | ") and (
      f"{figures['sequential_decode_s']:.3f}" in row)


def test_factorized_ablation_string_decodes(cw_path):
  codec = cw_codec.load(cw_path)
  x = synthetic_image(40, 32)
  symbols, _, string = codec.factorized_strings(x)
  _, _, mask = codec.codes(x)
  channels = tf.where(mask > 0)[:, 2]
  cdf = tf.gather(codec.factorized_cdfs, channels)
  decoded = context.range_decode(string, cdf)
  np.testing.assert_array_equal(decoded, symbols)


@pytest.mark.parametrize("importance_map", [True, False])
def test_loss_is_the_sum_of_its_named_terms(importance_map):
  model = ContentWeightedModel(lmbda=0.01, num_filters=8, code_channels=4,
                               groups=2, num_levels=4,
                               importance_map=importance_map)
  terms = {name: float(value) for name, value in
           model.loss_terms(synthetic_image(32, 32)[None]).items()}
  assert set(terms) == set(model.term_names)
  # Without the map every code is kept: the proxy rate is constant and is
  # not part of the loss.
  rate = terms["proxy_bpp"] if importance_map else 0.0
  assert terms["loss"] == pytest.approx(
      rate + 0.01 * terms["mse"] + terms["context_bpp"], rel=1e-5)


@pytest.mark.parametrize("count,scale", [(0, 1.0), (17, 0.5), (600, 2.0),
                                         (2000, 5.0)])
def test_public_range_coder_writes_the_older_ops_bytes(count, scale):
  # The files were first written with TFC's older range_encode op; the
  # public ops must give the same bytes, or old files would not decode.
  from tensorflow_compression.python.ops import gen_ops  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(count)
  logits = tf.constant(rng.normal(size=(count, 8)) * scale, tf.float32)
  probs = tf.nn.softmax(logits).numpy().astype(np.float64)
  symbols = np.array([rng.choice(8, p=p / p.sum()) for p in probs], np.int32)
  cdf = context.quantized_cdf(logits)
  string = context.range_encode(tf.constant(symbols), cdf)
  assert string.numpy() == gen_ops.range_encode(
      tf.constant(symbols, tf.int16), cdf, precision=16).numpy()
  np.testing.assert_array_equal(context.range_decode(string, cdf), symbols)


def test_the_quantizer_levels_in_use_get_gradient():
  """Backward through the quantizer reaches the learned level each feature
  was mapped to, and no other."""
  tf.keras.utils.set_random_seed(0)
  model = ContentWeightedModel(lmbda=0.01, num_filters=8, code_channels=4,
                               groups=2, num_levels=4)
  x = synthetic_image(32, 32)[None]
  with tf.GradientTape() as tape:
    loss = model.loss_terms(x)["loss"]
  grad = tape.gradient(loss, model.quantizer.levels).numpy()
  codes = model.quantizer.indices(model.analyse(
      tf.cast(x, tf.float32))[0]).numpy().reshape(-1, 4)
  used = np.zeros(grad.shape, bool)
  for channel in range(4):
    used[channel, np.unique(codes[:, channel])] = True
  assert np.all(grad[~used] == 0) and np.count_nonzero(grad[used]) > 0


@pytest.mark.slow
def test_rate_falls_with_lambda():
  """The same model and patches, a few Adam steps: the smaller lambda ends
  with the lower importance (what the rate is the ceiling of) and the lower
  rate, strictly lower (the gradient of the rate must not ignore lambda)."""
  x = np.stack([synthetic_image(32, 32), synthetic_image(32, 32)[::-1]])
  importance, rates = {}, {}
  for lmbda in (1e-4, 10.0):
    tf.keras.utils.set_random_seed(0)
    model = ContentWeightedModel(lmbda=lmbda, num_filters=8,
                                 code_channels=4, groups=2, num_levels=4)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=20, batch_size=2, verbose=0)
    importance[lmbda] = float(tf.reduce_mean(
        model.analyse(tf.cast(x, tf.float32))[1]))
    rates[lmbda] = float(model.loss_terms(x)["proxy_bpp"])
  assert importance[1e-4] < importance[10.0], importance
  assert rates[1e-4] < rates[10.0], rates


@pytest.mark.slow
def test_cli_refuses_bad_bitstreams_in_one_line(tmp_path, capsys):
  assert_cli_refuses_bad_bitstreams(
      cli, "content_weighted", _model_file(tmp_path / "model.npz"),
      _model_file(tmp_path / "other.npz", seed=1), tmp_path, capsys)


@pytest.mark.slow
def test_decoder_benchmark_times_the_three_ways(tmp_path):
  import json
  from content_weighted import benchmark
  output = tmp_path / "decoders.json"
  benchmark.main(benchmark.parse_args(
      ["benchmark", "--grid", "3x4", "--keep", "0.5,1", "--repeats", "1",
       "--output", str(output)]))
  results = json.loads(output.read_text())
  rows = results["by_kept_fraction"]
  assert list(rows) == ["0.5", "1.0"]
  assert rows["1.0"]["kept_codes"] == 3 * 4 * 32
  assert 0 < rows["0.5"]["kept_codes"] < 3 * 4 * 32
  for row in rows.values():
    for way in ("windows", "volume", "sequential"):
      assert row[way]["encode_s"] > 0 and row[way]["decode_s"] > 0


@pytest.mark.slow
def test_ablation_command_names_models_by_file_name(cw_path, tmp_path):
  """No folders in the results, unless two files share a name."""
  import json
  import shutil
  from PIL import Image
  Image.fromarray(synthetic_image(24, 32)).save(tmp_path / "a.png")
  copy = tmp_path / "copy" / "cw.npz"
  copy.parent.mkdir()
  shutil.copy(cw_path, copy)
  output = tmp_path / "ablation.json"
  for models, names in (([cw_path], ["cw.npz"]),
                        ([cw_path, copy], [str(cw_path), str(copy)])):
    flags = [flag for model in models for flag in ("--model", str(model))]
    assert run_main(cli, "content_weighted", "ablation",
                    str(tmp_path / "a.png"), *flags,
                    "--output", str(output)) == 0
    assert list(json.loads(output.read_text())) == names
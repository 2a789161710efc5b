"""The paper's ablations: importance map on/off; context vs factorized model.

For each model: mean real bpp (file size), PSNR, SSIM and MS-SSIM
(`metrics.quality`), the fraction of codes the importance map keeps, and
the information content of the same codes under the context model and
under per-channel factorized tables fitted to them (importance map bits
included in both), and the map's own bits under the model the file codes
it with and under its fitted tables. Decoding: seconds to encode and
decode with the file's slanted plane order and code by code in causal
order (`sequential`), and the sequential variant's size. For each model
after the first, the differences from the first with 95 % confidence
intervals over the images (`evaluation.ablation_figures`).
"""

import time

import numpy as np
from tqdm import tqdm

from bls2017.core import bitstream, evaluation, images, metrics
from content_weighted import sequential


def measure(codec, paths, desc=None):
  """Per-image figures of a `content_weighted.codec.Codec` on `paths`."""
  rows = []
  for number, path in enumerate(tqdm(paths, desc=desc)):
    x = images.read(path, codec.channels)
    if number == 0:  # Trace the tf.functions outside the timed calls.
      codec.decompress(codec.compress(x))
    pixels = x.shape[0] * x.shape[1]
    start = time.perf_counter()
    data = codec.compress(x)
    encoded = time.perf_counter()
    x_hat = codec.decompress(data)
    decoded = time.perf_counter()
    codes, _, mask = codec.codes(x)
    quality = metrics.quality(x, x_hat)
    map_bits = codec.map_bits(x)
    rows.append({
        "bpp": metrics.bpp(len(data), x),
        "psnr": quality["psnr"], "ssim": quality["ssim"],
        "ms_ssim": quality["ms_ssim"],
        "kept_fraction": float(np.mean(mask.numpy())),
        "kept_codes": float(np.sum(mask.numpy())),
        "context_bpp": codec.information_content(x) / pixels,
        "factorized_bpp": codec.information_content(
            x, codes_model="factorized") / pixels,
        "factorized_file_bpp": _factorized_file_bits(codec, x) / pixels,
        "map_bpp": map_bits[codec.model.map_model] / pixels,
        "map_factorized_bpp": map_bits["factorized"] / pixels,
        "slanted_encode_s": encoded - start,
        "slanted_decode_s": decoded - encoded,
        **_sequential(codec, x, codes.numpy() * mask.numpy())})
  return rows


def _factorized_file_bits(codec, x):
  """Real size with the kept codes range-coded by the factorized tables in
  one string: header, map length field, map string and that string."""
  _, map_string, codes_string = codec.factorized_strings(x)
  header_and_map = bitstream.HEADER_BYTES + 4 + len(map_string)
  return 8 * (header_and_map + len(codes_string))


def _sequential(codec, x, kept_codes):
  """Seconds and bits per pixel of code-by-code coding; raises if it does
  not decode the codes it was given."""
  start = time.perf_counter()
  map_string, data = sequential.compress(codec, x)
  encoded = time.perf_counter()
  codes, _ = sequential.decompress(codec, map_string, data, *x.shape[:2])
  decoded = time.perf_counter()
  if not np.array_equal(codes, kept_codes):
    raise RuntimeError("sequential decoding did not return the codes.")
  # The map's 4-byte length field, where the map has its own string.
  framing = bitstream.HEADER_BYTES + 4 * (codec.model.map_head is None)
  return {"sequential_file_bpp": metrics.bpp(
              framing + len(map_string) + len(data), x),
          "sequential_encode_s": encoded - start,
          "sequential_decode_s": decoded - encoded}


def describe(codec):
  """What the ablation records of a model: its settings, training steps
  and training wall time (seconds, as its model file records them)."""
  metadata = codec.loaded.metadata
  model = codec.model
  return {"importance_map": model.importance_map,
          "transform": model.transform,
          "mask_gradient": model.mask_gradient,
          "relaxed_until": model.relaxed_until,
          "map_model": model.map_model,
          "steps": metadata.get("steps"),
          "training_seconds": metadata.get("seconds_this_run")}


def run(codecs, names, paths, output):
  """{name: figures}; written as JSON to `output`."""
  return evaluation.run_ablation(measure, describe, codecs, names, paths,
                                 output)

"""The paper's ablations: importance map on/off; context vs factorized model.

For each model: mean real bpp (file size) and PSNR, the fraction of codes
the importance map keeps, and the information content of the same codes
under the context model and under per-channel factorized tables fitted to
them (importance map bits included in both).
"""

import numpy as np
from tqdm import tqdm

from bls2017 import bitstream, evaluation, images, metrics


def measure(codec, paths, desc=None):
  """Mean figures of a `content_weighted.codec.Codec` over image `paths`."""
  rows = []
  for path in tqdm(paths, desc=desc):
    x = images.read(path, codec.channels)
    pixels = x.shape[0] * x.shape[1]
    data = codec.compress(x)
    _, _, mask = codec.codes(x)
    rows.append({
        "bpp": metrics.bpp(len(data), x),
        "psnr": metrics.psnr(x, codec.decompress(data)),
        "kept_fraction": float(np.mean(mask.numpy())),
        "context_bpp": codec.information_content(x) / pixels,
        "factorized_bpp": codec.information_content(
            x, codes_model="factorized") / pixels,
        "factorized_file_bpp": _factorized_file_bits(codec, x) / pixels})
  summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
  return dict(summary, images=len(rows),
              importance_map=codec.model.importance_map)


def _factorized_file_bits(codec, x):
  """Real size with the kept codes range-coded by the factorized tables in
  one string: header, map length field, map string and that string."""
  _, map_string, codes_string = codec.factorized_strings(x)
  header_and_map = bitstream.HEADER_BYTES + 4 + len(map_string)
  return 8 * (header_and_map + len(codes_string))


def run(codecs, names, paths, output):
  """{name: figures}; written as JSON to `output`."""
  results = {name: measure(codec, paths, name)
             for name, codec in zip(names, codecs)}
  evaluation.write_json(output, results)
  return results

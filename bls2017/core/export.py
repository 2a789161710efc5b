"""Export of the Compressor and Decompressor as SavedModels.

The SavedModels need only TensorFlow and `tensorflow_compression` (whose
import registers the range coding ops), not this package:

    import tensorflow as tf, tensorflow_compression  # noqa
    compressor = tf.saved_model.load("out/compressor")
    data = compressor.compress(image).numpy()          # uint8 [H, W, C]
    image = tf.saved_model.load("out/decompressor").decompress(data)

Their `serving_default` signatures return {"bitstream": ...} and
{"image": ...}.
"""

import os
import shutil
import tempfile

import tensorflow as tf


def export(codec, output_dir):
  """Writes OUTPUT_DIR/compressor and OUTPUT_DIR/decompressor."""
  os.makedirs(output_dir, exist_ok=True)
  compressor, decompressor = codec.compressor, codec.decompressor
  _save(compressor, os.path.join(output_dir, "compressor"), tf.function(
      lambda image: {"bitstream": compressor.compress(image)},
      input_signature=compressor.compress.input_signature))
  _save(decompressor, os.path.join(output_dir, "decompressor"), tf.function(
      lambda bitstream: {"image": decompressor.decompress(bitstream)},
      input_signature=decompressor.decompress.input_signature))


def _save(module, path, serving_fn):
  """Saves into a temporary directory, then swaps it into place."""
  parent = os.path.dirname(os.path.abspath(path))
  tmp = tempfile.mkdtemp(dir=parent, prefix="." + os.path.basename(path))
  try:
    tf.saved_model.save(module, tmp, signatures={"serving_default": serving_fn})
    if os.path.isdir(path):
      shutil.rmtree(path)
    os.replace(tmp, path)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)

"""Modules executed when first used, so that a command's `--help` and its
usage errors are answered before TensorFlow loads.

The standard library's `importlib.util.LazyLoader` does the work; this only
registers the module the way `import` would. Plain Python.
"""

import importlib.util
import sys


def module(name):
  """Module `name`, executed at its first attribute access."""
  if name in sys.modules:
    return sys.modules[name]
  spec = importlib.util.find_spec(name)
  spec.loader = importlib.util.LazyLoader(spec.loader)
  lazy = importlib.util.module_from_spec(spec)
  sys.modules[name] = lazy
  spec.loader.exec_module(lazy)
  return lazy


def import_tensorflow():
  """Imports TensorFlow now. The commands call it after parsing their
  flags and before `app.run`: imported first inside `main`, TFC's layers
  fail to create their variables ("could not be lifted out of a
  tf.function")."""
  import tensorflow  # pylint: disable=import-outside-toplevel
  tensorflow.__version__  # pylint: disable=pointless-statement
  # (An attribute, so that a `module("tensorflow")` loads here too.)

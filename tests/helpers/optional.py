"""Optional dependencies in tests: a module of an extra is skipped where
the extra is not installed, but never in CI, which installs every extra
(`.ci/run`): there a missing module fails the tests that need it."""

import importlib
import os

import pytest


def import_or_skip(name, extra):
  """The module `name` of the `extra`; skips its tests where it is missing,
  unless the CI environment variable is set."""
  if os.environ.get("CI"):
    return importlib.import_module(name)
  return pytest.importorskip(name, reason=f"the {extra} extra is not "
                             "installed")

"""The layout holds: the shared machinery imports no system, systems do not
import each other, and no import cycle hides in function-level imports or
in module names given as strings (`lazy.module`, registry declarations)."""

import ast
import os

import pytest

from helpers.commands import ROOT

PACKAGES = ("bls2017", "cae_admm", "content_weighted", "mnist_demo")
# What each part may import from the project (beyond itself and the
# `bls2017` package, whose __init__ is a docstring): core only core (the
# shipped models it finds through the catalogs the systems declare); each
# system core and its own catalog but no other system.
ALLOWED = {
    "bls2017.core": ("bls2017.core",),
    "bls2017.paper": ("bls2017.core", "bls2017.paper", "bls2017.zoo"),
    "cae_admm": ("bls2017.core", "cae_admm"),
    "content_weighted": ("bls2017.core", "content_weighted"),
    "mnist_demo": ("bls2017.core", "mnist_demo"),
}


def _modules():
  """{module name: path} of every project module."""
  found = {}
  for package in PACKAGES:
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
      for name in files:
        if name.endswith(".py"):
          path = os.path.join(folder, name)
          parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
          if parts[-1] == "__init__":
            parts = parts[:-1]
          found[".".join(parts)] = path
  return found


def _imported(path, modules):
  """Project modules that `path` names: import statements anywhere in the
  file, and string constants that are module names (`lazy.module(...)`,
  registry declarations such as "pkg.codec:load")."""
  tree = ast.parse(open(path).read())
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names.add(node.module)
      names.update(f"{node.module}.{alias.name}" for alias in node.names)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
      name = node.value.split(":")[0]
      # A package declaring its own submodule for the registry (e.g.
      # "bls2017.paper.codec:open_model_file") is resolved once the package
      # has loaded: not an import of the package's.
      if not (path.endswith("__init__.py") and name.startswith(
          os.path.relpath(os.path.dirname(path), ROOT).replace(os.sep, ".")
          + ".")):
        names.add(name)
  return {name for name in names if name in modules}


def _part(module):
  return next((p for p in sorted(ALLOWED, key=len, reverse=True)
               if module == p or module.startswith(p + ".")), None)


@pytest.fixture(scope="module")
def graph():
  modules = _modules()
  return {name: _imported(path, modules) for name, path in modules.items()}


def test_each_part_imports_only_what_it_may(graph):
  wrong = []
  for module, imported in graph.items():
    part = _part(module)
    if part is None:
      continue  # The commands, benchmarks, zoo and JAX twin may use all.
    wrong += [f"{module} -> {name}" for name in imported
              if name != "bls2017" and not any(
                  name == a or name.startswith(a + ".")
                  for a in ALLOWED[part])]
  assert not wrong, "imports across the layout: " + ", ".join(sorted(wrong))


def test_no_import_cycles(graph):
  """A depth-first search over every import, function-level ones too."""
  state, stack = {}, []

  def visit(module):
    state[module] = "open"
    stack.append(module)
    for name in graph.get(module, ()):
      if name == module:
        continue
      if state.get(name) == "open":
        cycle = stack[stack.index(name):] + [name]
        pytest.fail("import cycle: " + " -> ".join(cycle))
      if name not in state:
        visit(name)
    stack.pop()
    state[module] = "done"

  for module in sorted(graph):
    if module not in state:
      visit(module)


def test_an_extras_missing_module_skips_its_tests_except_in_ci(monkeypatch):
  from helpers.optional import import_or_skip
  monkeypatch.delenv("CI", raising=False)
  with pytest.raises(pytest.skip.Exception, match="the accel extra"):
    import_or_skip("no_such_module_of_an_extra", "accel")
  monkeypatch.setenv("CI", "true")
  with pytest.raises(ImportError):
    import_or_skip("no_such_module_of_an_extra", "accel")
  assert import_or_skip("json", "accel").dumps(1) == "1"


# Each registered system's trainer (mnist_demo is a tutorial, not a system).
TRAINERS = ("bls2017/paper/train.py", "cae_admm/train.py",
            "content_weighted/train.py")
# What only the one outline calls: a trainer calling it has its own loop.
OUTLINE_PARTS = ("fit_and_save", "compile_adam", "copy_weights", "fit",
                 "set_random_seed")


def test_every_systems_trainer_goes_through_the_one_outline():
  for path in TRAINERS:
    tree = ast.parse(open(os.path.join(ROOT, path)).read())
    called = {node.func.attr if isinstance(node.func, ast.Attribute)
              else getattr(node.func, "id", None)
              for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert "train" in called, f"{path} does not call training.train"
    assert not called & set(OUTLINE_PARTS), (
        f"{path} runs its own outline: {sorted(called & set(OUTLINE_PARTS))}")


@pytest.mark.parametrize("package", ["bls2017", "cae_admm",
                                     "content_weighted"])
def test_every_train_flag_takes_its_default_from_the_config(package):
  """Flags state no default of their own: `train` with no flags is the
  config's defaults, field for field."""
  import importlib  # pylint: disable=import-outside-toplevel
  cli = importlib.import_module(f"{package}.cli")
  command = cli.COMMAND
  args = command.parse_args([package, "train"])
  assert command.config.from_flags(args, command="") == command.config()


def test_tests_import_no_fixtures_module():
  """What tests share is in tests/helpers; conftest.py holds fixtures only,
  and no test imports it."""
  offenders = []
  for folder, _, files in os.walk(os.path.join(ROOT, "tests")):
    for name in files:
      if name.endswith(".py"):
        tree = ast.parse(open(os.path.join(folder, name)).read())
        offenders += [name for node in ast.walk(tree)
                      if isinstance(node, ast.ImportFrom)
                      and node.module == "conftest"]
  assert not offenders, offenders


def test_no_train_flag_states_a_default_of_its_own():
  """A `default=` on a train flag would be overridden by the config's
  (`use_config_defaults`) and so stated twice: the flags state none."""
  sources = {"bls2017/cli.py": "_add_train_flags",
             "cae_admm/cli.py": "_add_train_flags",
             "content_weighted/cli.py": "_add_train_flags",
             "bls2017/core/commands/toolkit.py": "add_training_flags"}
  stated = []
  for path, function in sources.items():
    tree = ast.parse(open(os.path.join(ROOT, path)).read())
    body = next(node for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef) and node.name == function)
    stated += [f"{path}:{call.lineno}" for call in ast.walk(body)
               if isinstance(call, ast.Call) and any(
                   k.arg == "default" for k in call.keywords)]
  assert not stated, stated

"""Finds the generated blocks of the pages and rewrites them (see the
package docstring)."""


import glob
import os
import re

from bls2017.docs import blocks
from bls2017.docs.blocks import DocsError

# The pages that hold generated blocks, relative to the repository root.
PAGES = ("README.md", "BUILD_NOTES.md", "docs/*.md")

# Markers stand on lines of their own (a page may quote one in a sentence).
_BLOCK = re.compile(
    r"^(<!-- begin generated: (?P<name>[\w-]+) -->\n)(?P<text>.*?)"
    r"^(<!-- end generated: (?P=name) -->)$", re.DOTALL | re.MULTILINE)


def root_dir():
  """The repository root: the checkout the bls2017 package runs from."""
  return os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))))


def pages(root):
  """Paths of the pages that may hold generated blocks."""
  found = []
  for pattern in PAGES:
    found += sorted(glob.glob(os.path.join(root, pattern)))
  return found


def render(text, generate):
  """`text` with each marked block replaced by generate(name); the names of
  the blocks found, in order. Raises DocsError on a marker without its
  pair."""
  names = []

  def replace(match):
    names.append(match.group("name"))
    return (match.group(1) + generate(match.group("name")) + "\n" +
            match.group(4))

  rendered = _BLOCK.sub(replace, text)
  begins = len(re.findall(r"^<!-- begin generated:", text, re.MULTILINE))
  ends = len(re.findall(r"^<!-- end generated:", text, re.MULTILINE))
  if not begins == ends == len(names):
    raise DocsError(f"{begins} begin and {ends} end markers, {len(names)} "
                    "matching pairs.")
  return rendered, names


def update(root, check=False):
  """Renders every page's blocks from the results under `root`; writes the
  pages that change (unless `check`). Returns [(page, [stale block names])]
  for the pages whose committed text differs from the generated."""
  cache = {}

  def generate(name):
    if name not in blocks.BLOCKS:
      raise DocsError(f"unknown generated block {name!r}.")
    if name not in cache:
      cache[name] = blocks.BLOCKS[name](root).strip("\n")
    return cache[name]

  stale = []
  for page in pages(root):
    with open(page, encoding="utf-8") as f:
      text = f.read()
    try:
      rendered, names = render(text, generate)
    except DocsError as e:
      raise DocsError(f"{os.path.relpath(page, root)}: {e}") from None
    if rendered != text:
      old = {m.group("name"): m.group("text").rstrip("\n")
             for m in _BLOCK.finditer(text)}
      stale.append((os.path.relpath(page, root),
                    [n for n in names if old[n] != cache[n]]))
      if not check:
        with open(page, "w", encoding="utf-8") as f:
          f.write(rendered)
  return stale

"""python -m bls2017.docs [--check]: regenerate the pages' generated blocks
from the committed results (see the package docstring)."""

import argparse
import sys

from bls2017.core import tf_log


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog="python -m bls2017.docs",
      description="Regenerates the tables and measured sentences of "
      "README.md and docs/*.md from the committed results files.")
  parser.add_argument("--check", action="store_true",
                      help="Write nothing; exit 1 if any block differs "
                      "from what the results make.")
  args = parser.parse_args(argv)
  # The blocks read results through modules that import TensorFlow.
  tf_log.quiet_unless_asked([])
  from bls2017.docs import blocks, pages  # pylint: disable=import-outside-toplevel
  try:
    stale = pages.update(pages.root_dir(), check=args.check)
  except blocks.DocsError as e:
    print(f"python -m bls2017.docs: {e}", file=sys.stderr)
    return 1
  for page, names in stale:
    verb = "stale" if args.check else "rewrote"
    print(f"{page}: {verb} {', '.join(names)}")
  return 1 if args.check and stale else 0


if __name__ == "__main__":
  sys.exit(main())

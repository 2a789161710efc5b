"""Running the project's absl commands in-process from tests."""


def run_main(cli, program, *argv):
  """Runs `cli.main` on parsed argv; returns the exit status (0 or 1)."""
  try:
    cli.main(cli.parse_args([program, *map(str, argv)]))
  except SystemExit as e:
    return e.code
  return 0

"""The one-line report of an error a user can cause, for every command.

Plain Python: the JAX trainer's command uses it where TensorFlow is absent.
"""

import sys


def exit_with(program, error):
  """Prints "PROGRAM: error: MESSAGE" to stderr and exits with status 1."""
  message = str(error)
  if isinstance(error, OSError) and error.filename:
    message = f"{error.filename}: {error.strerror}"
  print(f"{program}: error: {message}", file=sys.stderr)
  sys.exit(1)

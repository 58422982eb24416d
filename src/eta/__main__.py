"""``python -m eta``: the same as the ``eta`` command."""

from eta.cli import app

app(prog_name="eta")

"""``python -m ziggurat.cli``: the ``ziggurat`` command."""

from . import run

run()

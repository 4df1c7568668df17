"""``python -m ziggurat.cli``: the ``ziggurat`` command."""

import sys

from . import main

sys.exit(main())

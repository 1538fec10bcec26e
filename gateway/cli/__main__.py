"""``python -m gateway.cli ...``: the ``onewindow`` command."""

import sys

from gateway.cli.main import main

sys.exit(main())

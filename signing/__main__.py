"""``python -m signing ...``: the same commands as ``onewindow seal``/``verify``."""

import sys

from signing.cli.main import main

sys.exit(main())

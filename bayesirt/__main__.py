"""``python -m bayesirt ARGS``: the ``bayesirt`` command line."""

import sys

from bayesirt.cli import main

sys.exit(main())

"""`python -m jupyter_mlp.cli`, as the `mlp` console script."""

import sys

from .main import main

sys.exit(main())

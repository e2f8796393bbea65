"""``python -m sceneqa.cli``: the same entry point as the ``sceneqa`` console script."""

import sys

from sceneqa.cli import main

sys.exit(main())

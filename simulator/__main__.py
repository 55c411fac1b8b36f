"""``python -m simulator`` works exactly like ``dsco-sandbox``."""

import sys

from .cli import main

sys.exit(main())

"""``python -m vh``: the same as the ``vh`` console script."""

from __future__ import annotations

import sys

from vh.main import main

sys.exit(main())

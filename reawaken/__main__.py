"""``python -m reawaken`` runs the command line."""

from __future__ import annotations

import sys

from reawaken.cli import main

sys.exit(main())

"""The run store: the only code that knows Zarr paths and array names (no torch here)."""

from __future__ import annotations

from reawaken.store.reader import open_run
from reawaken.store.schema import SCHEMA_VERSION, VARIABLES, StoreLayout, run_template

__all__ = ["SCHEMA_VERSION", "VARIABLES", "StoreLayout", "open_run", "run_template"]

"""The base of every configuration section: frozen, no unknown keys, no inf/NaN."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    # inf/NaN (``optimizer.lr=.inf``) are refused like any other out-of-range number
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

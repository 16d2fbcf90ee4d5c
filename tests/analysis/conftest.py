"""Synthetic runs whose analysis results are known by hand, shared by the analysis tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import xarray as xr

from reawaken.store.schema import step_coordinates
from reawaken.testing import synthetic_run

# T=3, M=1, E=2, cyclic: step s trains doc (s-1) % 3.
#   doc 0: a = 1, b = 3, l = 1, 3, 2     -> amount 1, score (3-2)/(3-1) = 0.5
#   doc 1: a = 2, b = 4, l = 1, 4, 1     -> amount 3, score (4-1)/(4-1) = 1.0
#   doc 2: a = 3, b = 5, l = 1, 2, 3     -> amount 0, score 0
HAND_LOSS = np.array(
    [
        [5.0, 5.0, 5.0],
        [1.0, 5.0, 5.0],
        [3.0, 1.0, 5.0],
        [2.0, 4.0, 1.0],
        [1.0, 1.0, 2.0],
        [2.0, 0.5, 3.0],
        [2.0, 1.0, 0.5],
    ]
)


@pytest.fixture
def hand_run() -> xr.Dataset:
    return synthetic_run(HAND_LOSS, steps_per_doc=1)


def effect_loss(
    order: np.ndarray,
    steps_per_doc: int,
    effect: Callable[[int, int, int], np.ndarray],
    *,
    start: float = 10.0,
) -> np.ndarray:
    """A loss matrix built step by step: each update of block k adds effect(...) / M.

    ``effect(epoch, position, doc)`` returns the change of every document's loss (length T)
    over the whole block of ``doc`` at cycle ``position`` of ``epoch``.
    """
    epochs, docs = order.shape
    coords = step_coordinates(order, steps_per_doc)
    loss = np.full((epochs * docs * steps_per_doc + 1, docs), start)
    for step in range(1, len(loss)):
        epoch, position = coords["epoch"][step], coords["cycle_position"][step]
        change = effect(int(epoch), int(position), int(coords["trained_doc"][step]))
        loss[step] = loss[step - 1] + np.asarray(change) / steps_per_doc
    return loss


def boundary_only(loss: np.ndarray, steps_per_doc: int) -> np.ndarray:
    """``loss`` as an "evaluate every doc" run records it: step 0 and block ends only."""
    kept = np.full_like(loss, np.nan)
    rows = np.arange(0, len(loss), steps_per_doc)
    kept[rows] = loss[rows]
    return kept


@pytest.fixture(name="effect_loss")
def effect_loss_fixture() -> Callable[..., np.ndarray]:
    return effect_loss


@pytest.fixture(name="boundary_only")
def boundary_only_fixture() -> Callable[[np.ndarray, int], np.ndarray]:
    return boundary_only

"""Document orders: each is a pure function of config and seed, and changes only what it says."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.config import ScheduleConfig
from reawaken.schedule import ORDERS, training_order

T = 10


def order(seed: int = 0, **settings: object) -> np.ndarray:
    return training_order(ScheduleConfig(num_epochs=4, **settings), num_docs=T, seed=seed)


def test_cyclic_repeats_the_same_order_every_epoch() -> None:
    assert order().tolist() == [list(range(T))] * 4


def test_shuffled_draws_a_new_permutation_every_epoch_reproducibly() -> None:
    first = order(seed=1, order="shuffled")
    assert all(sorted(row) == list(range(T)) for row in first.tolist())  # each a permutation
    assert len({tuple(row) for row in first.tolist()}) == 4  # epochs differ
    assert np.array_equal(first, order(seed=1, order="shuffled"))  # same seed, same orders
    assert not np.array_equal(first, order(seed=2, order="shuffled"))  # other seed, others
    # order_seed replaces the run seed for the order alone
    assert np.array_equal(order(seed=5, order="shuffled", order_seed=1), first)


def test_shuffled_keeps_x1_first_with_a_fixed_prefix() -> None:
    orders = order(seed=3, order="shuffled", fixed_prefix=1)
    assert orders[:, 0].tolist() == [0] * 4
    assert len({tuple(row) for row in orders[:, 1:].tolist()}) == 4


def test_partial_shuffle_keeps_x1_first_and_the_tail_fixed() -> None:
    orders = order(seed=0, order="shuffled", fixed_prefix=1, shuffle_end=6)
    assert orders[:, 0].tolist() == [0] * 4
    assert orders[:, 6:].tolist() == [[6, 7, 8, 9]] * 4  # x7..x10 keep their places
    for row in orders[:, 1:6].tolist():
        assert sorted(row) == [1, 2, 3, 4, 5]  # x2..x6 only move among themselves
    assert len({tuple(row) for row in orders[:, 1:6].tolist()}) > 1


def test_fixed_permutation_is_one_seeded_order_for_all_epochs() -> None:
    orders = order(seed=4, order="fixed_permutation")
    assert (orders == orders[0]).all()
    assert orders[0].tolist() != list(range(T))
    assert not np.array_equal(orders, order(seed=5, order="fixed_permutation"))


def test_reversed_runs_every_other_epoch_backwards_after_k() -> None:
    orders = order(order="reversed", fixed_prefix=3)
    forwards, backwards = list(range(T)), [0, 1, 2, 9, 8, 7, 6, 5, 4, 3]
    assert orders.tolist() == [forwards, backwards, forwards, backwards]


@pytest.mark.parametrize("name", list(ORDERS))
def test_every_order_gives_each_document_once_per_epoch(name: str) -> None:
    orders = order(seed=7, order=name, fixed_prefix=2, shuffle_end=8)
    assert all(sorted(row) == list(range(T)) for row in orders.tolist())
    assert orders[:, :2].tolist() == [[0, 1]] * 4 and orders[:, 8:].tolist() == [[8, 9]] * 4

"""Document orders: each is a pure function of config and seed, and changes only what it says."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.config import ScheduleConfig
from reawaken.schedule import ORDERS, training_order, training_schedule

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


def one_off_schedule(seed: int = 0, **settings: object) -> list[np.ndarray]:
    schedule = ScheduleConfig(num_epochs=5, one_offs=(20, 100), **settings)
    return training_schedule(schedule, num_docs=20, seed=seed)


def test_one_offs_follow_the_fixed_documents_once_each_in_epochs_of_varying_length() -> None:
    epochs = one_off_schedule(seed=0)
    cycled = training_order(ScheduleConfig(num_epochs=5), num_docs=20, seed=0)
    fresh = []
    for epoch, docs in enumerate(epochs):
        assert docs[:20].tolist() == cycled[epoch].tolist() == list(range(20))  # fixed first
        assert 20 <= len(docs) - 20 <= 100  # U{20..100} fresh documents after them
        fresh += docs[20:].tolist()
    assert fresh == list(range(20, 20 + len(fresh)))  # labelled T, T+1, ... in training order
    assert len(set(fresh)) == len(fresh)  # so none is trained twice
    assert len({len(docs) for docs in epochs}) > 1  # epochs differ in length
    counts = ScheduleConfig(num_epochs=5, one_offs=(20, 100)).one_off_counts(seed=0)
    assert [len(docs) - 20 for docs in epochs] == counts.tolist()


def test_one_offs_are_seeded_by_the_order_seed() -> None:
    lengths = [len(docs) for docs in one_off_schedule(seed=4)]
    assert lengths == [len(docs) for docs in one_off_schedule(seed=4)]  # reproducible
    assert lengths != [len(docs) for docs in one_off_schedule(seed=5)]
    assert [len(docs) for docs in one_off_schedule(seed=9, order_seed=4)] == lengths


def test_one_offs_compose_with_a_shuffled_order() -> None:
    epochs = one_off_schedule(seed=2, order="shuffled", fixed_prefix=1)
    assert all(docs[0] == 0 and sorted(docs[:20].tolist()) == list(range(20)) for docs in epochs)
    assert all(docs[20:].min() >= 20 for docs in epochs)


def test_a_fixed_one_off_count_gives_equal_epochs() -> None:
    epochs = training_schedule(ScheduleConfig(num_epochs=3, one_offs=(2, 2)), 3, seed=0)
    assert [docs.tolist() for docs in epochs] == [[0, 1, 2, 3, 4], [0, 1, 2, 5, 6], [0, 1, 2, 7, 8]]


def test_the_run_config_derives_steps_epochs_snapshots_and_checkpoints_from_the_schedule() -> None:
    from reawaken.config import load_config
    from reawaken.train.checkpoint import CheckpointPolicy
    from reawaken.train.setup import snapshot_steps

    config = load_config(
        overrides=[
            "schedule.one_offs=[1, 3]",
            "schedule.num_epochs=3",
            "probes.snapshot_every=epoch",
            "checkpoint.every=epoch",
        ]
    )  # the demo: T=10, M=5
    lengths = [len(d) for d in training_schedule(config.schedule, 10, config.seed)]
    ends = np.cumsum(lengths) * 5
    assert config.epoch_end_steps.tolist() == ends.tolist()
    assert config.total_steps == ends[-1] and config.num_one_offs == sum(lengths) - 30
    assert snapshot_steps(config).tolist() == [0, *ends.tolist()]
    policy = CheckpointPolicy.of(config)
    assert [s for s in range(5, ends[-1] + 1, 5) if policy.due(s)] == ends.tolist()
    assert config.steps_between("epoch") is None  # no single epoch length to give


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[5, 2]", r"'schedule\.one_offs': must be \[low, high\] .* 0 <= low <= high"),
        ("[0, 0]", r"and high >= 1, got \[0, 0\]"),
        ("[-1, 3]", r"'schedule\.one_offs': must be"),
        ("[3]", r"schedule\.one_offs"),
        ("many", r"schedule\.one_offs"),
    ],
)
def test_bad_one_off_ranges_are_refused_with_the_key(value: str, message: str) -> None:
    from reawaken.config import load_config
    from reawaken.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[f"schedule.one_offs={value}"])


def test_one_offs_need_documents_to_draw_from() -> None:
    from reawaken.config import load_config
    from reawaken.data.documents import read_documents
    from reawaken.errors import ConfigError

    with pytest.raises(ConfigError, match=r"one_offs needs documents .* toy model"):
        load_config(preset="paper/toy-inverse", overrides=["schedule.one_offs=[1, 2]"])
    config = load_config(overrides=["data.num_docs=100", "schedule.one_offs=[20, 100]"])
    with pytest.raises(ConfigError, match=r"plus \d+ one-off documents .* lower schedule"):
        read_documents(config.data, config.seed, extra=config.num_one_offs)

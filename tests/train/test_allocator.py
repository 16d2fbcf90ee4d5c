"""The retained heap: large blocks are reused without page faults inside, unmapped after."""

from __future__ import annotations

import resource
import sys

import pytest
import torch

from reawaken.train import allocator, runner
from reawaken.train.allocator import retained_heap

BLOCK = 64 * 2**20 // 4  # floats in 64 MiB, above glibc's largest mmap threshold (32 MiB)

glibc_only = pytest.mark.skipif(
    allocator._glibc() is None, reason="mallopt settings exist in glibc only"
)


def faults_of_filling_a_fresh_block() -> int:
    """Minor page faults while a new 64 MiB tensor is allocated, written and freed."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.empty(BLOCK)
    block.fill_(1.0)
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def faults_once_the_heap_has_grown() -> int:
    """The same, after a few rounds: a block freed amid other allocations is not reused by an
    aligned request of its own size (torch asks for 64-byte alignment), but once two such
    blocks have been freed side by side the heap holds every later one."""
    for _ in range(3):
        faults_of_filling_a_fresh_block()
    return faults_of_filling_a_fresh_block()


@glibc_only
def test_inside_freed_memory_is_reused_and_after_it_is_returned() -> None:
    pages = BLOCK * 4 // resource.getpagesize()
    assert faults_of_filling_a_fresh_block() > pages // 2  # mmap'd: every page faulted in
    with retained_heap() as retained:
        assert retained
        assert faults_once_the_heap_has_grown() < pages // 20
    assert faults_of_filling_a_fresh_block() > pages // 2  # restored


@glibc_only
def test_nested_use_restores_only_when_the_outer_one_ends() -> None:
    pages = BLOCK * 4 // resource.getpagesize()
    with retained_heap():
        with retained_heap():
            faults_once_the_heap_has_grown()
        assert faults_of_filling_a_fresh_block() < pages // 20
    assert faults_of_filling_a_fresh_block() > pages // 2


def test_disabled_or_elsewhere_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    with retained_heap(enabled=False) as retained:
        assert not retained
    monkeypatch.setattr(sys, "platform", "darwin")
    with retained_heap() as retained:
        assert not retained


def test_a_cpu_run_trains_inside_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from reawaken.config import load_config

    seen = []
    real_train = runner.CyclicRun.train

    def train(self: runner.CyclicRun, progress) -> None:
        seen.append(allocator._active)
        real_train(self, progress)

    monkeypatch.setattr(runner.CyclicRun, "train", train)
    config = load_config(overrides=["data.num_docs=2", "schedule.num_epochs=1"])
    runner.run_experiment(config, tmp_path / "run.zarr", progress=False)
    assert seen == [1 if allocator._glibc() is not None else 0]
    assert allocator._active == 0

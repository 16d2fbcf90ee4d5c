"""The retained heap: 64 MiB blocks (above glibc's largest mmap threshold, 32 MiB) are reused
without page faults inside, unmapped after."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from reawaken.train import allocator, runner
from reawaken.train.allocator import retained_heap

glibc_only = pytest.mark.skipif(
    allocator._glibc() is None, reason="mallopt settings exist in glibc only"
)


# Run in a fresh interpreter: the allocator's state is the whole process's, and the heap a
# long test session leaves behind (fragments pinned by other objects) is not what a run starts
# from. Prints the page faults of filling a new 64 MiB tensor: outside, inside (once the heap
# has grown to hold such blocks), inside a nested use after the inner one ended, and after.
PROBE = """
import json, resource, torch
from reawaken.train.allocator import retained_heap

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.empty(64 * 2**20 // 4)
    block.fill_(1.0)
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

seen = {"outside": faults()}
with retained_heap():
    with retained_heap():
        faults(); faults()
    seen["inside"] = faults()
seen["after"] = faults()
print(json.dumps(seen))
"""


@glibc_only
def test_inside_freed_memory_is_reused_and_after_it_is_returned() -> None:
    pages = 64 * 2**20 // resource.getpagesize()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["outside"] > pages // 2  # mmap'd: every page faulted in
    assert seen["inside"] < pages // 20  # the heap's pages, already there
    assert seen["after"] > pages // 2  # settings restored, the heap returned


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

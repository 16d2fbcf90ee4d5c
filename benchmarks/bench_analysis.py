"""Time the analysis functions on paper-sized synthetic runs; prints one line per measurement.

Run: ``python benchmarks/bench_analysis.py``. Sizes follow the paper's main run (T=25 documents,
M=10 steps each, E=5 epochs, evaluation after every step: a 1251 x 25 loss matrix; 126
snapshots) and the budgets of issue 4 (1 s for loss analyses, 5 s for snapshot analyses).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import xarray as xr

from reawaken import analysis
from reawaken.store.combine import combine_runs
from reawaken.testing import synthetic_run

T, M, E = 25, 10, 5
HIDDEN, SKETCH, PARAMS = 2048, 4096, 2_000_000


def timed(label: str, func: Callable[[], object], budget: float, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    verdict = "ok" if best <= budget else "OVER BUDGET"
    print(f"{label:<58} {best:8.3f} s   (budget {budget:.0f} s, {verdict})")
    return best


def loss_run(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    steps = E * T * M + 1
    return synthetic_run(
        rng.random((steps, T)) + 2.0,
        steps_per_doc=M,
        arrays={"train_loss": rng.random(steps) + 2.0},
    )


def bench_losses() -> None:
    ds = loss_run()
    print(f"loss: {dict(ds.loss.sizes)}")
    timed("recovery_score", lambda: analysis.recovery_score(ds), 1)
    timed("aligned_curves", lambda: analysis.aligned_curves(ds), 1)
    timed("paper_recovery_score", lambda: analysis.paper_recovery_score(ds), 1)
    timed(
        "recovery_matrix(by_distance=True)",
        lambda: analysis.recovery_matrix(ds, by_distance=True),
        1,
    )
    timed("summary", lambda: analysis.summary(ds), 1)
    runs = combine_runs([loss_run(seed) for seed in range(10)], [f"seed{s}" for s in range(10)])
    timed("recovery_score, 10 runs", lambda: analysis.recovery_score(runs), 1)
    timed("aligned_curves, 10 runs", lambda: analysis.aligned_curves(runs), 1)


def bench_snapshots(rng: np.random.Generator) -> None:
    snapshots = E * T + 1
    probes = synthetic_run(
        np.zeros((E * T * M + 1, T)),
        steps_per_doc=M,
        arrays={
            "activation": rng.normal(size=(snapshots, T, 1, HIDDEN)).astype(np.float32),
            "weight_sketch": rng.normal(size=(snapshots, SKETCH)).astype(np.float32),
        },
    )
    print(f"activation: {dict(probes.activation.sizes)}")
    for method in ("cosine", "cka"):
        timed(
            f"representation_similarity({method}), doc by doc",
            lambda m=method: analysis.representation_similarity(probes, method=m),
            5,
        )
        timed(
            f"representation_similarity({method}, doc=0), over snapshots",
            lambda m=method: analysis.representation_similarity(probes, method=m, doc=0),
            5,
        )
    timed(
        f"weight_trajectory(source='weight_sketch'), {snapshots} x {SKETCH}",
        lambda: analysis.weight_trajectory(probes, source="weight_sketch"),
        5,
    )


def bench_weights(rng: np.random.Generator) -> None:
    snapshots = E * T + 1
    weight = rng.normal(scale=0.02, size=(snapshots, PARAMS)).astype(np.float32)
    weights = synthetic_run(
        np.zeros((E * T * M + 1, T)), steps_per_doc=M, arrays={"weight": weight}
    )
    timed(
        f"weight_trajectory(source='weight'), {snapshots} x {PARAMS:.0e}",
        lambda: analysis.weight_trajectory(weights, source="weight"),
        5,
        repeat=2,
    )


def main() -> None:
    rng = np.random.default_rng(0)
    bench_losses()
    bench_snapshots(rng)
    bench_weights(rng)


if __name__ == "__main__":
    main()

"""Time the analysis functions on paper-sized synthetic runs; prints one line per measurement.

Run: ``python benchmarks/bench_analysis.py``. Sizes follow the paper's main run (T=25 documents,
M=10 steps each, E=5 epochs, evaluation after every step: a 1251 x 25 loss matrix; 126
snapshots) and the budgets of issue 4 (1 s for loss analyses, 5 s for snapshot analyses).

``python benchmarks/bench_analysis.py --stores 200 [--folder DIR]`` times instead
``open_runs`` + ``summary`` over that many paper-size stores written as the runner writes them
(block by block, in the runner's chunk layout; activations of a 768-wide model, a 256-wide
sketch), reading only what the summary needs (the runs table); budget 8 s. ``--compare``
also times opening every store in full and checks that both give the same summary.
The stores are written once into ``--folder`` (default: a temporary folder) and reused.
"""

from __future__ import annotations

import argparse
import glob
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr

from reawaken import analysis
from reawaken.store.combine import combine_runs, open_runs
from reawaken.store.schema import SCHEMA_VERSION, StoreLayout, run_template
from reawaken.store.writer import RunWriter
from reawaken.testing import synthetic_config, synthetic_run

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


def paper_store(path: Path, seed: int, hidden: int = 768, sketch: int = 256) -> None:
    """A completed paper-size store (T=25, M=10, E=5) laid out and written like a real run."""
    rng = np.random.default_rng(seed)
    layout = StoreLayout(
        order=np.tile(np.arange(T), (E, 1)),
        steps_per_doc=M,
        n_tokens=np.full(T, 256),
        source_ids=[f"doc-{i}" for i in range(T)],
        snapshot_steps=np.arange(0, E * T * M + 1, M),
        activation_layers=[-1],
        hidden_size=hidden,
        sketch_size=sketch,
    )
    config = json.dumps(synthetic_config(T, M, E, seed=seed))
    writer = RunWriter.create(
        path, run_template(layout, {"schema_version": SCHEMA_VERSION, "config": config})
    )
    steps, snapshots = E * T * M + 1, len(layout.snapshot_steps)
    arrays = {
        "loss": rng.random((steps, T)) + 2.0,
        "train_loss": np.r_[np.nan, rng.random(steps - 1) + 2.0],
        "lr": np.r_[np.nan, np.full(steps - 1, 1e-3)],
        "grad_norm": np.r_[np.nan, rng.random(steps - 1)],
    }
    for start in range(0, steps, M):  # block by block, as the runner writes
        writer.write_steps(
            start, {k: v[start : start + M].astype(np.float32) for k, v in arrays.items()}
        )
    writer.write_array("activation", rng.normal(size=(snapshots, T, 1, hidden)).astype(np.float32))
    writer.write_array("weight_sketch", rng.normal(size=(snapshots, sketch)).astype(np.float32))
    writer.set_progress(steps - 1)
    writer.mark("completed")


def bench_stores(count: int, folder: Path, *, compare: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    have = len(glob.glob(str(folder / "*.zarr")))
    if have < count:
        print(f"writing {count - have} paper-size stores into {folder} ...")
        for seed in range(have, count):
            paper_store(folder / f"run-{seed:04d}.zarr", seed)
    paths = sorted(glob.glob(str(folder / "*.zarr")))[:count]
    print(f"{count} stores of T={T}, M={M}, E={E} in {folder}")
    start = time.perf_counter()
    lean = analysis.summary(open_runs(paths, variables=analysis.SUMMARY_VARIABLES))
    fast = time.perf_counter() - start
    verdict = "ok" if fast <= 8 else "OVER BUDGET"
    label = "open_runs(variables=SUMMARY_VARIABLES) + summary"
    print(f"{label:<58} {fast:8.3f} s   (budget 8 s, {verdict})")
    if not compare:
        return
    start = time.perf_counter()
    full = analysis.summary(open_runs(paths, workers=1))
    slow = time.perf_counter() - start
    print(f"{'open_runs (every store in full, one at a time) + summary':<58} {slow:8.3f} s")
    same = lean.identical(full)
    print(f"speed-up {slow / fast:.1f}x; same summary: {same}")
    if not same:
        raise SystemExit("the lean summary differs from the full one")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=0, help="time open_runs + summary instead")
    parser.add_argument("--folder", type=Path, default=None, help="where the stores are kept")
    parser.add_argument(
        "--compare", action="store_true", help="also open every store in full (slow) and compare"
    )
    args = parser.parse_args()
    if args.stores:
        folder = args.folder or Path(tempfile.mkdtemp()) / "stores"
        bench_stores(args.stores, folder, compare=args.compare)
        return
    rng = np.random.default_rng(0)
    bench_losses()
    bench_snapshots(rng)
    bench_weights(rng)


if __name__ == "__main__":
    main()

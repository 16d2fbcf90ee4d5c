"""open_runs: many stores as one lazy Dataset with a ``run`` dim and config coordinates."""

from __future__ import annotations

import json
from pathlib import Path

import dask.array
import numpy as np
import pytest
import xarray as xr

import reawaken
from reawaken.analysis import recovery_score, summary
from reawaken.errors import StoreError
from reawaken.store.combine import open_runs
from reawaken.store.schema import SCHEMA_VERSION
from reawaken.testing import synthetic_config, synthetic_run


def _write(
    folder: Path,
    name: str,
    *,
    num_docs: int = 3,
    steps_per_doc: int = 2,
    num_epochs: int = 2,
    seed: int = 0,
    completed_steps: int | None = None,
    **overrides: object,
) -> xr.Dataset:
    steps = num_docs * steps_per_doc * num_epochs + 1
    rng = np.random.default_rng(seed)
    loss = rng.random((steps, num_docs)) + 1.0
    train = np.concatenate([[np.nan], rng.random(steps - 1) + 1.0])
    if completed_steps is not None:
        loss[completed_steps + 1 :] = np.nan
        train[completed_steps + 1 :] = np.nan
    config = synthetic_config(num_docs, steps_per_doc, num_epochs, seed=seed, **overrides)
    ds = synthetic_run(
        loss,
        steps_per_doc=steps_per_doc,
        config=config,
        arrays={"train_loss": train},
        status="completed" if completed_steps is None else "running",
        completed_steps=completed_steps,
    )
    ds.to_zarr(folder / f"{name}.zarr", zarr_format=3, consolidated=False)
    return ds


@pytest.fixture
def sweep(tmp_path: Path) -> dict[str, xr.Dataset]:
    runs = tmp_path / "runs"
    runs.mkdir()
    return {
        "a": _write(runs, "a", seed=1, **{"model.name": "pythia-70m"}),
        "b": _write(runs, "b", seed=2, **{"model.name": "pythia-160m", "data.context_length": 16}),
        "c": _write(
            runs,
            "c",
            num_docs=2,
            num_epochs=3,
            seed=3,
            completed_steps=5,
            **{"model.name": "pythia-70m"},
        ),
    }


def test_open_runs_adds_a_run_dim_and_config_coordinates(tmp_path: Path, sweep) -> None:
    runs = open_runs(str(tmp_path / "runs" / "*.zarr"))
    assert runs["run"].values.tolist() == ["a", "b", "c"]
    assert dict(runs["loss"].sizes) == {"run": 3, "step": 13, "doc": 3}
    assert isinstance(runs["loss"].data, dask.array.Array)  # still lazy
    assert runs["model"].values.tolist() == ["pythia-70m", "pythia-160m", "pythia-70m"]
    assert runs["num_docs"].values.tolist() == [3, 3, 2]
    assert runs["steps_per_doc"].values.tolist() == [2, 2, 2]
    assert runs["num_epochs"].values.tolist() == [2, 2, 3]
    assert runs["optimizer"].values.tolist() == ["sgd"] * 3
    # 'lr' is the per-step learning-rate variable, so the config value is 'optimizer_lr'
    assert runs["optimizer_lr"].values.tolist() == [1e-3] * 3 and runs["lr"].dims == ("run", "step")
    assert runs["seed"].values.tolist() == [1, 2, 3]
    assert runs["context_length"].values.tolist() == [8, 16, 8]  # varies: kept by leaf name
    assert "revision" not in runs.coords  # same in every run
    assert runs["status"].values.tolist() == ["completed", "completed", "running"]
    assert runs["completed_steps"].values.tolist() == [12, 12, 5]
    assert json.loads(str(runs["config"].sel(run="b").item()))["data"]["context_length"] == 16
    assert runs.attrs["schema_version"] == SCHEMA_VERSION


def test_runs_of_different_sizes_are_aligned_with_nan(tmp_path: Path, sweep) -> None:
    runs = open_runs(str(tmp_path / "runs" / "*.zarr"))
    c = runs.sel(run="c")
    assert np.isnan(c["loss"].sel(doc=2)).all()  # run c has 2 documents
    assert np.isnan(c["loss"].sel(step=slice(6, None))).all()  # and 12 + 1 steps, 5 done
    assert runs["trained_doc"].dims == ("run", "step")  # orders differ in length
    assert c["trained_doc"].values.tolist() == [-1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]
    assert runs.sel(run="a")["tokens"].dtype == np.int32


def test_analysis_on_opened_stores_equals_analysis_on_each_run(tmp_path: Path, sweep) -> None:
    runs = open_runs(str(tmp_path / "runs" / "*.zarr"))
    score = recovery_score(runs)
    for name, ds in sweep.items():
        single = recovery_score(ds)
        picked = score.sel(run=name, epoch=single["epoch"], doc=single["doc"])
        np.testing.assert_allclose(picked.values, single.values)
    by_model = summary(runs).groupby("model").mean()
    assert sorted(by_model["model"].values.tolist()) == ["pythia-160m", "pythia-70m"]


def test_clashing_leaf_names_fall_back_to_dotted_paths(tmp_path: Path) -> None:
    _write(tmp_path, "x", **{"model.revision": "step0", "data.revision": "v1"})
    _write(tmp_path, "y", **{"model.revision": "main", "data.revision": "v2"})
    runs = open_runs([tmp_path / "x.zarr", tmp_path / "y.zarr"])
    assert runs["model_revision"].values.tolist() == ["step0", "main"]
    assert runs["data_revision"].values.tolist() == ["v1", "v2"]
    assert runs.groupby("model_revision").mean()["loss"].sizes["model_revision"] == 2


def test_paths_names_and_errors(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    _write(tmp_path / "one", "run")
    _write(tmp_path / "two", "run")
    runs = reawaken.open_runs([tmp_path / "one" / "run.zarr", tmp_path / "two" / "run.zarr"])
    assert runs["run"].values.tolist() == ["one/run", "two/run"]
    with pytest.raises(StoreError, match="no run stores match"):
        open_runs(str(tmp_path / "nothing-*.zarr"))
    with pytest.raises(StoreError, match="does not exist"):
        open_runs([tmp_path / "missing.zarr"])


def test_open_runs_accepts_a_folder_of_runs(tmp_path: Path, sweep) -> None:
    from_folder = open_runs(tmp_path / "runs")
    from_glob = open_runs(str(tmp_path / "runs" / "*.zarr"))
    assert from_folder["run"].values.tolist() == from_glob["run"].values.tolist()

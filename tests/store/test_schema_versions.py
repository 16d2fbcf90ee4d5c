"""Schema v2 round-trips; stores at the v1 layout still open, analyse, list, check and resume."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

import reawaken
from reawaken.cli import main
from reawaken.config import RunConfig
from reawaken.errors import ConfigError, RunInterrupted, StoreError
from reawaken.store.check import check_run
from reawaken.store.reader import open_run
from reawaken.store.schema import SCHEMA_VERSION
from reawaken.testing import synthetic_run, v1_layout, write_store
from reawaken.train import resume_experiment, run_experiment

T, M = 3, 2


def run_with_probes(order: list[list[int]] | None = None) -> xr.Dataset:
    """A run with weight and sketch arrays and a loss that dips and recovers (seeded)."""
    epochs = order or [[0, 1, 2]] * 3
    steps = sum(len(e) for e in epochs) * M + 1
    rng = np.random.default_rng(0)
    loss = 3 + np.sin(np.arange(steps)[:, None] / 2 + np.arange(T)) + rng.random((steps, T))
    snapshots = np.arange(0, steps, M)
    return synthetic_run(
        loss,
        steps_per_doc=M,
        order=epochs,
        arrays={
            "train_loss": rng.random(steps),
            "weight": rng.random((len(snapshots), 5)),
            "weight_sketch": rng.random((len(snapshots), 4)),
        },
    )


def test_a_v2_store_round_trips_with_epochs_of_different_lengths(tmp_path: Path) -> None:
    ds = run_with_probes(order=[[0, 1, 2, 3, 4], [0, 1, 2], [0, 1, 2, 5]])
    back = open_run(write_store(ds, tmp_path / "v2.zarr"))
    assert back.attrs["schema_version"] == SCHEMA_VERSION == 2
    assert "stored_schema_version" not in back.attrs
    assert "param" not in back.coords and "sketch" not in back.coords  # dims only
    assert dict(back.sizes) == dict(ds.sizes)
    assert set(back.variables) == set(ds.variables)
    for name in ds.variables:
        assert back[name].dims == ds[name].dims, name
        assert back[name].values.tolist() == ds[name].values.tolist(), name
    assert back.one_off.values.tolist() == [3, 4, 5]
    assert back.one_off_source_id.values.tolist() == ["one-off-0", "one-off-1", "one-off-2"]
    per_epoch = np.bincount(back.epoch.values[1:]) // M
    assert per_epoch.tolist() == [5, 3, 4]
    lean = open_run(tmp_path / "v2.zarr", variables=("loss",))
    assert lean.trained_doc.values.tolist() == ds.trained_doc.values.tolist()


@pytest.fixture
def v1_and_v2(tmp_path: Path) -> tuple[Path, Path]:
    """The same run written at the v1 layout (index coords on param/sketch) and at v2."""
    ds = run_with_probes()
    v1 = write_store(v1_layout(ds), tmp_path / "old.zarr")
    v2 = write_store(ds, tmp_path / "new.zarr")
    assert zarr.open_group(str(v1), mode="r").attrs["schema_version"] == 1
    assert "param" in xr.open_zarr(v1, zarr_format=3, consolidated=False).coords
    return v1, v2


def test_a_v1_store_opens_as_v2(v1_and_v2: tuple[Path, Path]) -> None:
    v1, v2 = v1_and_v2
    for old in (open_run(v1), open_run(v1, variables=("loss", "weight"))):
        assert old.attrs["schema_version"] == 2 and old.attrs["stored_schema_version"] == 1
        assert "param" not in old.coords and "sketch" not in old.coords
        assert old.sizes["param"] == 5
    new = open_run(v2)
    old = open_run(v1)
    for name in new.variables:
        assert old[name].values.tolist() == new[name].values.tolist(), name
    assert check_run(v1) == []


ANALYSES: dict[str, Callable[[xr.Dataset], xr.DataArray | xr.Dataset]] = {
    "block_table": reawaken.block_table,
    "recovery_score": reawaken.recovery_score,
    "paper_recovery_score": reawaken.paper_recovery_score,
    "aligned_curves": reawaken.aligned_curves,
    "recovery_matrix": reawaken.recovery_matrix,
    "boundary_losses": reawaken.boundary_losses,
    "prequential_loss": reawaken.prequential_loss,
    "weight_trajectory": reawaken.weight_trajectory,
    "summary": reawaken.summary,
}


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_of_a_v1_store_equals_that_of_the_same_run_at_v2(
    v1_and_v2: tuple[Path, Path], name: str
) -> None:
    v1, v2 = v1_and_v2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old, new = ANALYSES[name](open_run(v1)), ANALYSES[name](open_run(v2))
    xr.testing.assert_identical(old.reset_coords(drop=True), new.reset_coords(drop=True))


def test_v1_and_v2_stores_combine(v1_and_v2: tuple[Path, Path]) -> None:
    runs = reawaken.open_runs(list(v1_and_v2))
    assert runs.sizes["run"] == 2 and runs.sizes["param"] == 5 and "param" not in runs.coords
    score = reawaken.recovery_score(runs)
    np.testing.assert_array_equal(score.isel(run=0).values, score.isel(run=1).values)


def test_the_cli_lists_shows_and_checks_a_v1_store(
    v1_and_v2: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    v1, _ = v1_and_v2
    assert main(["check", str(v1)]) == 0
    assert "ok (completed)" in capsys.readouterr().out
    assert main(["show", str(v1)]) == 0
    assert "num_docs: 3" in capsys.readouterr().out
    assert main(["ls", str(v1.parent)]) == 0
    listed = capsys.readouterr().out
    assert "old" in listed and "completed" in listed


def test_a_store_of_an_unknown_version_is_refused_by_name(tmp_path: Path) -> None:
    path = write_store(run_with_probes().assign_attrs(schema_version=3), tmp_path / "x.zarr")
    with pytest.raises(StoreError, match="schema version 3; this reawaken reads version 1 or 2"):
        open_run(path)


def as_v1_on_disk(path: Path) -> None:
    """Turn a real run's store into the layout schema v1 wrote: index arrays on the dims
    that v2 leaves without one, and ``schema_version`` 1."""
    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    for dim in ("sketch", "param"):
        sizes = {
            d: n
            for a in group.array_values()
            for d, n in zip(a.metadata.dimension_names or (), a.shape, strict=True)
        }
        if dim in sizes:
            index = group.create_array(
                dim, shape=(sizes[dim],), dtype="int64", dimension_names=[dim]
            )
            index[:] = np.arange(sizes[dim])
    group.attrs["schema_version"] = 1


def test_an_interrupted_v1_run_resumes_to_the_uninterrupted_losses(
    make_config: Callable[..., RunConfig],
    finished_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupt_at: Callable[[int], None],
) -> None:
    config = make_config()  # the config of finished_run
    store = tmp_path / "v1.zarr"
    interrupt_at(5)
    with pytest.raises(RunInterrupted):
        run_experiment(config, store, progress=False)
    monkeypatch.undo()
    as_v1_on_disk(store)
    assert open_run(store).attrs["stored_schema_version"] == 1
    with pytest.raises(ConfigError, match=r"different config: optimizer\.lr"):
        resume_experiment(store, make_config("optimizer.lr=0.1"), progress=False)
    result = resume_experiment(store, config, progress=False)
    assert result.status == "completed"
    resumed, whole = open_run(store), open_run(finished_run)
    assert resumed.attrs["stored_schema_version"] == 1  # still the v1 layout, read as v2
    np.testing.assert_array_equal(resumed.loss.values, whole.loss.values)
    assert check_run(store) == []

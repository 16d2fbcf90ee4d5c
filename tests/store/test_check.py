"""Damaged, foreign and inconsistent stores are found by `check` and refused by `open_run`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import xarray as xr
import zarr

import reawaken
from reawaken.cli import main
from reawaken.errors import StoreError
from reawaken.store.check import check_run


@pytest.fixture
def run_copy(finished_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.zarr"
    shutil.copytree(finished_run, copy)
    return copy


def set_attr(path: Path, **attrs: object) -> None:
    zarr.open_group(str(path), mode="r+").attrs.update(attrs)


def truncate_chunk(path: Path, variable: str) -> None:
    chunk = sorted(p for p in (path / variable / "c").rglob("*") if p.is_file())[0]
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])


DAMAGES: list[tuple[Callable[[Path], None], str]] = [
    (lambda p: truncate_chunk(p, "loss"), "variable 'loss' cannot be read (a chunk is damaged"),
    (
        lambda p: (p / "zarr.json").write_text('{"zarr_format": 3, "node'),
        "is damaged: its Zarr metadata cannot be read",
    ),
    (lambda p: shutil.rmtree(p / "train_loss"), "required variable 'train_loss' is missing"),
    (
        lambda p: set_attr(p, schema_version=99),
        "it has schema version 99; this reawaken reads version 1",
    ),
    (
        lambda p: set_attr(p, completed_steps=3),
        "status is 'completed' but completed_steps is 3 of 12",
    ),
    (lambda p: set_attr(p, status="done"), "attribute 'status' is 'done', expected one of"),
]


@pytest.mark.parametrize(("damage", "message"), DAMAGES)
def test_damaged_store_is_reported_and_refused(
    run_copy: Path, damage: Callable[[Path], None], message: str
) -> None:
    assert check_run(run_copy) == []
    damage(run_copy)
    problems = check_run(run_copy)
    assert any(message in problem for problem in problems), problems
    with pytest.raises(StoreError, match=r"damaged|not a valid reawaken run"):
        reawaken.open_run(run_copy)


def test_missing_snapshot_data_is_reported(run_copy: Path) -> None:
    shutil.rmtree(run_copy / "weight_sketch" / "c" / "3")
    assert check_run(run_copy) == ["'weight_sketch' is missing at written snapshot(s) [3]"]


def test_a_foreign_zarr_store_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "foreign.zarr"
    xr.Dataset({"x": ("t", [1.0, 2.0])}).to_zarr(path, zarr_format=3, consolidated=False)
    assert check_run(path) == ["it has no 'schema_version' attribute: not a reawaken run store"]
    with pytest.raises(StoreError, match="no 'schema_version'"):
        reawaken.open_run(path)


def test_check_command_reports_each_run(
    finished_run: Path, run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truncate_chunk(run_copy, "loss")
    assert main(["check", str(finished_run), str(run_copy)]) == 1
    printed = capsys.readouterr().out
    assert f"{finished_run}: ok" in printed
    assert f"{run_copy}: 1 problem(s)" in printed
    assert main(["check", str(finished_run)]) == 0


def test_config_attribute_round_trips(finished_run: Path) -> None:
    config = json.loads(reawaken.open_run(finished_run).attrs["config"])
    assert (config["schedule"]["steps_per_doc"], config["schedule"]["num_epochs"]) == (2, 2)

"""The command line end to end: run, ls, show, presets, overwrite protection, live readers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

import reawaken
from reawaken import cli
from reawaken.cli import main
from reawaken.errors import ConfigError, ReawakenError, RunFailed, RunInterrupted, StoreError


@pytest.fixture
def tiny_args(tiny_model_dir: Path, tiny_corpus: Path) -> list[str]:
    return [
        "--set", f"model.name={tiny_model_dir}", "--set", f"data.source={tiny_corpus}",
        "--set", "data.text_field=article", "--set", "data.num_docs=3",
        "--set", "data.context_length=24", "--set", "schedule.steps_per_doc=2",
        "--set", "schedule.num_epochs=3", "--set", "optimizer.name=sgd",
        "--set", "optimizer.lr=0.5", "--set", "probes.sketch_size=8",
        "--set", "evaluation.every=step", "--set", "checkpoint.every=doc",
    ]  # fmt: skip


def test_run_writes_the_named_store_and_prints_a_summary(
    tiny_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    assert main(["run", *tiny_args, "--out", str(out), "--name", "demo", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"{out / 'demo.zarr'}" in printed
    assert f"reawaken show {out / 'demo.zarr'}" in printed
    ds = reawaken.open_run(out / "demo.zarr")
    assert ds.attrs["status"] == "completed"
    # The headline is the paper's RS(E-1), on the last line, under its own name.
    rs = reawaken.paper_recovery_score(ds).sel(presentation=2).item()
    assert printed.splitlines()[0].startswith("protocol: cyclic, T=3 C=24 M=2 E=3, sgd lr=0.5")
    assert printed.splitlines()[-1].startswith(f"RS = {rs:.3f}  (the paper's recovery score")

    assert main(["ls", str(out)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["run", "status", "progress", "model", "T/M/E", "RS"]
    assert listing[1].split()[:3] == ["demo", "completed", "100%"]
    assert listing[1].split()[-2:] == ["3/2/3", f"{rs:.3f}"]

    assert main(["show", str(out / "demo.zarr")]) == 0
    shown = capsys.readouterr().out
    assert "status: completed" in shown and "steps_per_doc: 2" in shown
    assert shown.splitlines()[1] == f"  RS: {rs:.3f} (the paper's RS at the last epoch)"


def test_existing_store_is_never_overwritten_without_the_flag(
    tiny_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "keep.zarr"
    store.mkdir()
    (store / "precious").write_text("data")
    status = main(["run", *tiny_args, "--out", str(tmp_path), "--name", "keep", "--quiet"])
    assert status == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (store / "precious").read_text() == "data"
    assert (
        main(
            ["run", *tiny_args, "--out", str(tmp_path), "--name", "keep", "--quiet", "--overwrite"]
        )
        == 0
    )
    assert not (store / "precious").exists()


def test_presets_lists_each_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("default") and "CPU demo" in line for line in lines)


def test_show_of_a_foreign_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.zarr").mkdir()
    assert main(["show", str(tmp_path / "x.zarr")]) == 2
    assert "is not a run store: it has no zarr.json" in capsys.readouterr().err


def test_reader_sees_consistent_data_while_the_run_is_written(
    tiny_args: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "live.zarr"
    longer = [*tiny_args, "--set", "schedule.num_epochs=12"]
    command = [
        sys.executable,
        "-m",
        "reawaken",
        "run",
        *longer,
        "--out",
        str(tmp_path),
        "--name",
        "live",
        "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen_running = reads = 0
    try:
        while process.poll() is None:
            if not store.exists():  # the writer creates it whole, under a temporary name
                time.sleep(0.02)
                continue
            # A fast raw read (attribute, then the rows it claims) polls often enough to land
            # between the writer's writes; every tenth read goes through open_run, which
            # refuses a store whose written steps hold NaN. Any StoreError is a failure here.
            group = zarr.open_group(str(store), mode="r")
            done = group.attrs["completed_steps"]
            # completed_steps 0 of a running store claims nothing yet (step 0 may be pending)
            claimed = group["loss"][(0 if done else 1) : done + 1]
            assert np.isfinite(claimed).all(), f"NaN at or before completed step {done}"
            reads += 1
            if reads % 10 == 0:
                ds = reawaken.open_run(store)
                assert ds.loss.shape == (12 * 3 * 2 + 1, 3)  # full size from the start
                seen_running += ds.attrs["status"] == "running"
    finally:
        process.kill() if process.poll() is None else None
        stderr = process.communicate()[1].decode()
    assert process.returncode == 0, stderr
    assert seen_running >= 3
    assert reawaken.open_run(store).attrs["status"] == "completed"


def test_cli_help_does_not_import_torch() -> None:
    code = (
        "import sys; from reawaken.cli import build_parser; build_parser(); "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("error", "status", "printed"),
    [
        (RunInterrupted("stopped by SIGTERM after 4 steps"), 130, "reawaken: stopped by"),
        (RunFailed("interrupted-looking text, but a failure"), 1, "reawaken: interrupted-"),
        (ConfigError("config key 'seed' must be an integer"), 2, "reawaken: error: config"),
        (StoreError("no run store at x.zarr"), 2, "reawaken: error: no run store"),
    ],
)
def test_the_exit_status_is_the_error_types_not_read_from_its_message(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: ReawakenError,
    status: int,
    printed: str,
) -> None:
    def fail(args: object) -> int:
        raise error

    monkeypatch.setattr(cli, "command_presets", fail)
    assert main(["presets"]) == status == error.exit_code
    assert capsys.readouterr().err.startswith(printed)

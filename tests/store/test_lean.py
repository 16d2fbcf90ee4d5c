"""Lean reads (``open_run(path, variables=...)``): the same values as xarray reads, and fast paths
that still refuse damaged stores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from zarr.codecs import BytesCodec, Crc32cCodec, ZstdCodec

from reawaken.analysis import SUMMARY_VARIABLES, summary
from reawaken.errors import StoreError
from reawaken.store.combine import open_runs
from reawaken.store.lean import _read_array
from reawaken.store.reader import open_run
from reawaken.store.schema import SCHEMA_VERSION, StoreLayout, run_template
from reawaken.store.writer import RunWriter
from reawaken.testing import synthetic_config

T, M, E = 3, 2, 3


def _written(path: Path, seed: int, blocks: int | None = None) -> Path:
    """A store laid out as the runner lays it out (a chunk per block), ``blocks`` written."""
    layout = StoreLayout(
        order=np.tile(np.arange(T), (E, 1)),
        steps_per_doc=M,
        n_tokens=np.array([5, 4, 3]),
        source_ids=["a", "bé", "c"],
        snapshot_steps=np.arange(0, E * T * M + 1, M),
        activation_layers=[-1],
        hidden_size=4,
        sketch_size=5,
    )
    attrs = {"schema_version": SCHEMA_VERSION, "config": json.dumps(synthetic_config(T, M, E))}
    writer = RunWriter.create(path, run_template(layout, attrs))
    rng = np.random.default_rng(seed)
    done = E * T if blocks is None else blocks
    steps = done * M + 1
    writer.write_steps(
        0,
        {
            "loss": (rng.random((steps, T)) + 1).astype(np.float32),
            "train_loss": np.r_[np.nan, rng.random(steps - 1)].astype(np.float32),
        },
    )
    writer.write_array("tokens", np.arange(T * 5, dtype=np.int32).reshape(T, 5))
    for index in range(done + 1):  # a snapshot at every written block boundary, as the runner
        writer.write_snapshot(
            index,
            {
                "activation": rng.random((T, 1, 4)).astype(np.float32),
                "weight_sketch": rng.random(5).astype(np.float32),
            },
        )
    writer.set_progress(steps - 1)
    if blocks is None:
        writer.mark("completed")
    return path


def test_a_lean_read_equals_the_xarray_read(tmp_path: Path, finished_run: Path) -> None:
    partial = _written(tmp_path / "partial.zarr", seed=1, blocks=4)
    for path in (finished_run, partial):
        full = open_run(path)
        lean = open_run(path, variables=("loss", "tokens"))
        assert sorted(lean.data_vars) == ["loss", "tokens"]
        assert not any(hasattr(v.data, "dask") for v in lean.variables.values())
        xr.testing.assert_identical(lean["loss"], full["loss"].load())
        xr.testing.assert_identical(lean["tokens"], full["tokens"].load())  # -1 fill -> NaN
        for name in full.coords:
            np.testing.assert_array_equal(lean[name].values, full[name].values)
        assert lean.attrs == full.attrs
    assert np.isnan(open_run(partial, variables=["loss"])["loss"].values[9:]).all()


def test_summary_of_lean_runs_equals_the_full_one(tmp_path: Path) -> None:
    for seed in range(3):
        _written(tmp_path / f"run{seed}.zarr", seed)
    _written(tmp_path / "running.zarr", 5, blocks=5)
    lean = summary(open_runs(tmp_path, variables=SUMMARY_VARIABLES))
    full = summary(open_runs(tmp_path, workers=1))
    xr.testing.assert_identical(lean, full)
    assert lean["status"].values.tolist() == [*["completed"] * 3, "running"]


def test_a_lean_read_still_refuses_bad_data(tmp_path: Path) -> None:
    path = _written(tmp_path / "bad.zarr", seed=0)
    group = zarr.open_group(str(path), mode="r+")
    group["loss"][4] = np.nan  # a written step lost
    with pytest.raises(StoreError, match=r"'loss' has NaN/inf at written step\(s\) \[4\]"):
        open_run(path, variables=SUMMARY_VARIABLES)
    running = _written(tmp_path / "running.zarr", seed=0, blocks=3)
    (running / "loss" / "zarr.json").unlink()  # a running store has no consolidated metadata
    with pytest.raises(StoreError, match="required variable 'loss' is missing"):
        open_run(running, variables=SUMMARY_VARIABLES)
    with pytest.raises(StoreError, match="no run store"):
        open_run(tmp_path / "none.zarr", variables=SUMMARY_VARIABLES)


def test_checksummed_chunks_are_verified(tmp_path: Path) -> None:
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    array = zarr.create_array(
        str(tmp_path / "a"),
        shape=values.shape,
        chunks=(3, 3),
        dtype="float32",
        fill_value=np.nan,
        serializer=BytesCodec(),
        compressors=[ZstdCodec(), Crc32cCodec()],
    )
    array[...] = values
    meta = json.loads((tmp_path / "a" / "zarr.json").read_text())
    np.testing.assert_array_equal(_read_array(str(tmp_path / "a"), meta), values)
    chunk = tmp_path / "a" / "c" / "1" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[-1] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checksum"):
        _read_array(str(tmp_path / "a"), meta)

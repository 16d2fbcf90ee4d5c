"""The schema is stated once: the template, the reader and the documented tables follow it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reawaken.store.reader import structural_problems
from reawaken.store.schema import (
    COORDINATES,
    POST_RUN_DIMS,
    VARIABLES,
    StoreLayout,
    run_template,
    schema_tables,
)

ROOT = Path(__file__).resolve().parents[2]


def full_layout() -> StoreLayout:
    """A layout in which every optional variable and dim of the schema is switched on."""
    return StoreLayout(
        order=[np.array([1, 0]), np.array([0, 1, 2])],  # a one-off document (2) in epoch 1
        steps_per_doc=2,
        n_tokens=np.array([4, 3]),
        source_ids=["a", "b"],
        snapshot_steps=np.array([0, 4, 8]),
        activation_layers=[1, 3],
        hidden_size=5,
        sketch_size=6,
        weight_size=7,
        grad_sketch=True,
        num_heldout_docs=2,
        token_loss=True,
        one_off_source_ids=["x"],
    )


def test_the_template_builds_every_declared_variable_with_its_dims_and_dtype() -> None:
    ds = run_template(full_layout())
    at_creation = {name: spec for name, spec in VARIABLES.items() if not spec.post_run}
    assert set(ds.data_vars) == set(at_creation)  # post-run variables come from commands
    for name, spec in at_creation.items():
        assert ds[name].dims == spec.dims, name
        assert ds[name].dtype == np.dtype(spec.dtype), name
        assert ds[name].attrs["long_name"] == spec.long_name
    coordinates = {
        name: c for name, c in COORDINATES.items() if not set(c.dims) & set(POST_RUN_DIMS)
    }
    assert set(ds.coords) == set(coordinates)
    for name, coordinate in coordinates.items():
        assert ds[name].dims == coordinate.dims, name
    assert ds.layer.values.tolist() == [1, 3]
    assert ds.sizes == {
        "step": 11, "doc": 2, "token": 4, "snapshot": 3, "heldout_doc": 2,
        "layer": 2, "hidden": 5, "sketch": 6, "param": 7, "one_off": 1,
    }  # fmt: skip
    assert "param" not in ds.coords and "sketch" not in ds.coords  # schema v2: no index
    assert ds.one_off.values.tolist() == [2] and ds.one_off_source_id.values.tolist() == ["x"]
    assert ds.epoch.values.tolist() == [-1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert ds.trained_doc.values.tolist() == [-1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 2]
    assert structural_problems(ds.assign_attrs(schema_version=2, status="running",
                                               completed_steps=0)) == []  # fmt: skip


def test_optional_variables_are_left_out_with_their_dims() -> None:
    layout = StoreLayout(
        order=np.array([[0, 1]]),
        steps_per_doc=1,
        n_tokens=np.array([2, 2]),
        source_ids=["a", "b"],
        snapshot_steps=np.array([0, 2]),
        sketch_size=4,  # grad_sketch is off: its switch is not set
    )
    ds = run_template(layout)
    required = {name for name, spec in VARIABLES.items() if spec.required}
    assert set(ds.data_vars) == required | {"weight_sketch"}
    assert "param" not in ds.dims and "layer" not in ds.coords


@pytest.mark.parametrize("document", ["README.md", "docs/architecture.md"])
def test_the_documented_schema_tables_are_the_declared_ones(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    assert schema_tables() in text, (
        f"the schema tables in {document} differ from reawaken/store/schema.py: paste the "
        "output of `python -m reawaken.store.schema` there"
    )
    for name in VARIABLES:  # and the table is not an empty shell
        assert f"| `{name}` |" in text


def test_the_reader_refuses_a_store_that_breaks_a_declared_dtype_or_coordinate() -> None:
    ds = run_template(full_layout()).assign_attrs(
        schema_version=2, status="running", completed_steps=0
    )
    assert structural_problems(ds.assign(tokens=ds.tokens.astype("int64"))) == [
        "variable 'tokens' has dtype int64, expected int32"
    ]
    assert structural_problems(ds.drop_vars("n_tokens")) == [
        "coordinate 'n_tokens' on 'doc' is missing"
    ]


@pytest.mark.parametrize(
    ("num_docs", "epochs", "expected_chunk"), [(25, 5, 1251), (3000, 1, 80), (30_000, 1, 10)]
)
def test_step_chunks_hold_whole_blocks_of_about_a_mebibyte(
    num_docs: int, epochs: int, expected_chunk: int
) -> None:
    """A paper-size loss (1251 x 25 float32) is one chunk; a wide one stays whole blocks."""
    layout = StoreLayout(
        order=np.tile(np.arange(num_docs), (epochs, 1)),
        steps_per_doc=10,
        n_tokens=np.full(num_docs, 4),
        source_ids=[str(i) for i in range(num_docs)],
        snapshot_steps=np.array([0]),
    )
    template = run_template(layout)
    step_chunk = template["loss"].chunks[0][0]
    assert step_chunk == expected_chunk  # 3000 docs: 1 MiB / 12 kB rows = 87 steps = 8 blocks

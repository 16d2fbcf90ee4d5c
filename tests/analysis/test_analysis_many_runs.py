"""Every analysis function gives, per run, the same numbers on combined runs as on each run."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
import xarray as xr

import reawaken
from reawaken import analysis
from reawaken.store.combine import combine_runs
from reawaken.testing import synthetic_run


def _probes(rng: np.random.Generator, snapshots: int, docs: int, hidden: int) -> dict:
    return {
        "activation": rng.normal(size=(snapshots, docs, 2, hidden)),
        "weight": rng.normal(size=(snapshots, 6 + hidden)),
        "weight_sketch": rng.normal(size=(snapshots, 5)),
        "grad_sketch": rng.normal(size=(snapshots, docs, 5)),
    }


def _runs() -> dict[str, xr.Dataset]:
    """Four runs that differ in T, M, E, order, progress and probe sizes."""
    rng = np.random.default_rng(7)
    cyclic = synthetic_run(
        rng.random((13, 3)) + 1, steps_per_doc=2, arrays=_probes(rng, 7, 3, 4)
    )  # T=3, M=2, E=2
    order = np.array([[2, 0, 1], [1, 2, 0], [0, 2, 1]])
    shuffled = synthetic_run(
        rng.random((10, 3)) + 1, steps_per_doc=1, order=order, arrays=_probes(rng, 10, 3, 4)
    )  # T=3, M=1, E=3, shuffled each epoch
    loss = rng.random((13, 2)) + 1
    loss[6:] = np.nan
    probes = _probes(rng, 7, 2, 3)
    for name in ("activation", "weight", "weight_sketch", "grad_sketch"):
        probes[name][4:] = np.nan  # snapshots after step 5 not written yet
    running = synthetic_run(
        loss, steps_per_doc=2, status="running", completed_steps=5, arrays=probes
    )  # T=2, M=2, E=3, in progress, smaller hidden size and weight
    single = synthetic_run(
        rng.random((7, 3)) + 1, steps_per_doc=2, arrays=_probes(rng, 4, 3, 4)
    )  # T=3, M=2, E=1: recovery undefined
    return {"cyclic": cyclic, "shuffled": shuffled, "running": running, "single": single}


CASES: list[tuple[Callable, dict]] = [
    (analysis.boundary_losses, {}),
    (analysis.aligned_curves, {}),
    (analysis.aligned_curves, {"ragged": True}),
    (analysis.recovery_amount, {}),
    (analysis.recovery_score, {}),
    (analysis.mean_recovery_score, {}),
    (analysis.paper_recovery_score, {}),
    (analysis.prequential_loss, {}),
    (analysis.mean_prequential_loss, {}),
    (analysis.recovery_matrix, {}),
    (analysis.recovery_matrix, {"by_distance": True}),
    (analysis.representation_similarity, {}),
    (analysis.representation_similarity, {"method": "cka"}),
    (analysis.representation_similarity, {"doc": 1}),
    (analysis.representation_similarity, {"doc": 1, "method": "cka", "layer": 0}),
    (analysis.representation_pca, {}),
    (analysis.gradient_similarity, {}),
    (analysis.weight_trajectory, {}),
    (analysis.weight_trajectory, {"source": "weight_sketch", "n_components": 2}),
    (analysis.weight_residual_similarity, {"window": 2}),
    (analysis.update_magnitudes, {}),
    (analysis.summary, {}),
]


@pytest.fixture(scope="module")
def runs() -> dict[str, xr.Dataset]:
    return _runs()


@pytest.fixture(scope="module")
def combined(runs: dict[str, xr.Dataset]) -> xr.Dataset:
    return combine_runs(list(runs.values()), list(runs))


def _assert_matches(picked: xr.DataArray, single: xr.DataArray) -> None:
    picked = picked.sel({d: single[d].values for d in single.dims if d in single.indexes})
    assert picked.dims == single.dims
    if single.dtype.kind in "US":
        assert picked.values.tolist() == single.values.tolist()
    else:
        np.testing.assert_allclose(picked.values, single.values, rtol=1e-9, atol=1e-12)
    for name, coord in single.coords.items():
        if name in picked.coords and coord.dtype.kind not in "OUS":
            np.testing.assert_allclose(picked[name].values, coord.values, err_msg=str(name))


@pytest.mark.parametrize(("func", "options"), CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_combined_runs_give_each_runs_numbers(
    func: Callable, options: dict, runs: dict[str, xr.Dataset], combined: xr.Dataset
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.RecoveryUndefinedWarning)
        together = func(combined, **options)
        for name, ds in runs.items():
            single = func(ds, **options)
            picked = together.sel(run=name)
            if isinstance(single, xr.Dataset):
                for variable in single.data_vars:
                    _assert_matches(picked[variable], single[variable])
            else:
                _assert_matches(picked, single)
    results = together.data_vars.values() if isinstance(together, xr.Dataset) else [together]
    for result in results:
        assert "run" in result.dims and "model" in result.coords  # run coordinates kept


def test_summary_has_the_same_variables_for_one_run_and_many(
    runs: dict[str, xr.Dataset], combined: xr.Dataset
) -> None:
    together = analysis.summary(combined)
    assert list(together.data_vars) == list(analysis.summary(runs["cyclic"]).data_vars)
    assert together["status"].values.tolist() == ["completed", "completed", "running", "completed"]
    assert together["progress"].sel(run="running").item() == pytest.approx(5 / 12)


def test_single_epoch_run_among_others_warns_and_gives_nan(combined: xr.Dataset) -> None:
    with pytest.warns(analysis.RecoveryUndefinedWarning):
        score = analysis.recovery_score(combined)
    assert np.isnan(score.sel(run="single")).all()
    assert np.isfinite(score.sel(run="cyclic", epoch=1)).all()


@pytest.mark.filterwarnings("ignore::reawaken.analysis.RecoveryUndefinedWarning")
def test_accessor_delegates_to_the_functions(combined: xr.Dataset) -> None:
    xr.testing.assert_identical(combined.reawaken.summary(), analysis.summary(combined))
    xr.testing.assert_identical(
        combined.reawaken.recovery_matrix(by_distance=True),
        analysis.recovery_matrix(combined, by_distance=True),
    )
    assert combined.reawaken.summary.__doc__ == analysis.summary.__doc__  # the real docs
    assert reawaken.recovery_score is analysis.recovery_score

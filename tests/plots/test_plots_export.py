"""Static figures: the files written (names, formats, sizes) and the figures' content."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import holoviews as hv
import numpy as np
import pytest
import xarray as xr
from PIL import Image
from plot_runs import E, M, T, make_small_run

from reawaken.errors import ReawakenError
from reawaken.plots.export import build_figures, write_figures
from reawaken.testing import synthetic_run

WIDTH_INCHES = 3.5  # one column of a two-column paper


@pytest.fixture(scope="module")
def small_run() -> xr.Dataset:
    return make_small_run()


@pytest.fixture(scope="module")
def stores(small_run: xr.Dataset, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two runs with snapshots and one without, as stores."""
    root = tmp_path_factory.mktemp("runs")
    paths = {name: root / f"{name}.zarr" for name in ("small", "twin", "bare")}
    small_run.to_zarr(paths["small"], zarr_format=3, consolidated=False)
    twin = small_run.copy()
    twin["loss"] = twin["loss"] * 0.5
    twin.to_zarr(paths["twin"], zarr_format=3, consolidated=False)
    bare = synthetic_run(
        small_run.loss.values,
        steps_per_doc=M,
        num_epochs=E,
        snapshot_steps=np.array([], dtype=np.int64),
        arrays={"train_loss": small_run.train_loss.values},
    )
    bare.to_zarr(paths["bare"], zarr_format=3, consolidated=False)
    return paths


def elements(obj: hv.core.Dimensioned, kind: type) -> list[hv.Element]:
    return obj.traverse(lambda e: e, [kind])


def test_every_figure_of_one_run_is_written_with_its_stable_name(stores, tmp_path):
    written = write_figures([stores["small"]], tmp_path / "figures")
    assert [p.name for p in written] == [
        "recovery_doc0.png",
        "aligned_curves.png",
        "recovery_scores.png",
        "online_loss.png",
        "loss_heatmap.png",
        "recovery_matrix.png",
        "recovery_matrix_by_distance.png",
        "similarity_docs.png",
        "similarity_doc0_snapshots.png",
        "trajectory_pca.png",
        "trajectory_pca3d.png",
    ]
    for path in written:
        assert path.stat().st_size > 10_000, path.name  # a drawn figure, not an empty canvas
        with Image.open(path) as image:
            assert image.format == "PNG"
            width, height = image.size
        # 3.5 in (7 in for the pair of PCA panels) at 300 dpi, within a tick label's jump
        inches = 7.0 if path.name == "trajectory_pca.png" else WIDTH_INCHES
        assert width == pytest.approx(inches * 300, rel=0.06), path.name
        assert 0.3 * width <= height <= 1.1 * width, path.name


def test_svg_and_pdf_are_written_in_their_format_at_paper_size(stores, tmp_path):
    written = write_figures(
        [stores["small"]], tmp_path, formats=["svg", "pdf"], what=["matrix"], docs=[1]
    )
    assert [p.name for p in written] == [
        "recovery_matrix.svg",
        "recovery_matrix.pdf",
        "recovery_matrix_by_distance.svg",
        "recovery_matrix_by_distance.pdf",
    ]
    svg = written[0].read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    width_pt = float(re.search(r'<svg[^>]*width="([\d.]+)pt"', svg).group(1))
    assert width_pt == pytest.approx(WIDTH_INCHES * 72, rel=0.06)
    pdf = written[1].read_bytes()
    assert pdf.startswith(b"%PDF-")
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert float(box.group(1)) == pytest.approx(WIDTH_INCHES * 72, rel=0.06)


def test_figures_of_a_known_run_hold_the_expected_lines_and_cells(small_run):
    figures = build_figures({"small": small_run}, docs=[0, 3])
    for doc in (0, 3):
        (curve,) = elements(figures[f"recovery_doc{doc}"], hv.Curve)
        np.testing.assert_allclose(curve.dimension_values("loss"), small_run.loss.sel(doc=doc))
        assert len(elements(figures[f"recovery_doc{doc}"], hv.Scatter)[0]) == E  # one per block
    heat = figures["loss_heatmap"]
    np.testing.assert_array_equal(heat.dimension_values(2, flat=False), small_run.loss.values.T)
    assert len(figures["recovery_matrix"].dimension_values(2)) == T * T
    assert len(figures["similarity_docs"].dimension_values(2)) == T * T
    snapshots = E * T + 1
    assert len(figures["similarity_doc3_snapshots"].dimension_values(2)) == snapshots**2
    (points,) = elements(figures["trajectory_pca3d"], hv.Scatter3D)
    assert len(points) == snapshots
    assert len(elements(figures["trajectory_pca"], hv.Points)) == 2  # by epoch, by position
    assert len(elements(figures["aligned_curves"], hv.Curve)) == 1


def test_several_runs_share_the_curve_figures_and_get_their_own_maps(stores, small_run):
    runs = {"small": small_run, "twin": small_run.assign(loss=small_run.loss * 0.5)}
    figures = build_figures(runs, what=["recovery", "matrix"])
    curves = elements(figures["recovery_doc0"], hv.Curve)
    assert [c.label for c in curves] == ["small: doc 0", "twin: doc 0"]
    np.testing.assert_allclose(curves[1].dimension_values("loss"), small_run.loss.sel(doc=0) * 0.5)
    assert [c.label for c in elements(figures["aligned_curves"], hv.Curve)] == ["small", "twin"]
    assert {"loss_heatmap_small", "loss_heatmap_twin", "recovery_matrix_twin"} <= set(figures)
    assert "loss_heatmap" not in figures


def test_a_run_without_snapshots_skips_its_snapshot_figures_with_a_warning(
    stores, tmp_path, caplog
):
    with caplog.at_level(logging.WARNING, logger="reawaken.plots.export"):
        written = write_figures(
            [stores["bare"], stores["small"]], tmp_path, what=["similarity", "trajectory"]
        )
    names = {p.name for p in written}
    assert "similarity_docs_small.png" in names and "trajectory_pca3d_small.png" in names
    assert not any("bare" in name for name in names)
    assert "run bare has no activation snapshots" in caplog.text
    assert "run bare has no weight snapshots" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"formats": ["png", "jpeg"]}, "unknown format jpeg; choose from png, svg, pdf"),
        ({"what": ["recovery", "loss"]}, "unknown figure set loss"),
        ({"docs": [T]}, rf"documents 0..{T - 1}; documents \[{T}\] are out of range"),
    ],
)
def test_bad_choices_are_refused_with_what_to_choose(stores, tmp_path, options, message):
    with pytest.raises(ReawakenError, match=message):
        write_figures([stores["small"]], tmp_path, **options)
    assert not list(tmp_path.iterdir())


def test_reawaken_figures_command_writes_the_chosen_figures(stores, tmp_path, capsys):
    from reawaken.cli import main

    out = tmp_path / "figures"
    status = main(
        ["figures", str(stores["small"]), "--out", str(out), "--format", "png,pdf",
         "--what", "matrix", "--docs", "0,2"]
    )  # fmt: skip
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "recovery_matrix.pdf",
        "recovery_matrix.png",
        "recovery_matrix_by_distance.pdf",
        "recovery_matrix_by_distance.png",
    ]
    assert "4 file(s) written" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--format", "tiff"], "unknown format tiff"), (["--docs", "first"], "--docs takes")],
)
def test_reawaken_figures_command_explains_bad_options(stores, tmp_path, capsys, option, message):
    from reawaken.cli import main

    assert main(["figures", str(stores["small"]), "--out", str(tmp_path), *option]) == 2
    assert message in capsys.readouterr().err


def test_matrix_set_adds_the_stored_pairwise_matrix_and_points_the_documents_pca(
    small_run: xr.Dataset,
) -> None:
    docs = small_run.sizes["doc"]
    change = np.eye(docs, dtype=np.float32) * -2 + 0.5  # row = trained doc
    run = small_run.assign(
        pairwise_loss_change=xr.DataArray(change, dims=("source_doc", "doc"), attrs={"epoch": 1})
    )
    figures = build_figures({"r": run}, what=["matrix", "points"])
    assert {"recovery_matrix", "pairwise_recovery", "points_pca"} <= set(figures)
    heat = figures["pairwise_recovery"]
    np.testing.assert_allclose(heat.dimension_values(2, flat=False), change.T)
    panels = figures["points_pca"]
    assert 2 <= len(panels) <= 4  # the documents' PCA at up to 4 snapshots, first and last
    assert all(len(panel.Points.I) == docs for panel in panels)
    assert "pairwise_recovery" not in build_figures({"r": small_run}, what=["matrix"])


def test_mechanism_set_draws_the_three_mechanism_views_from_stored_probes(
    small_run: xr.Dataset,
) -> None:
    from reawaken import analysis

    figures = build_figures({"r": small_run}, what=["mechanism"], docs=[1])
    expected = {"weight_residual_similarity", "update_magnitudes_doc1"}
    if "grad_sketch" in small_run:
        expected.add("gradient_similarity")
    assert expected <= set(figures)
    source = "weight_sketch" if "weight_sketch" in small_run else "weight"
    magnitudes = analysis.update_magnitudes(small_run, doc=1, source=source)
    activation_curve = figures["update_magnitudes_doc1"][0]
    written = magnitudes["activation_update"].values
    np.testing.assert_allclose(activation_curve.dimension_values(1), written[np.isfinite(written)])

"""The figures hold exactly the data they are given: curves, cells and points, counted."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest
import xarray as xr
from plot_runs import make_small_run

from reawaken import plots
from reawaken.plots.recovery import training_blocks
from reawaken.plots.style import MAX_POINTS
from reawaken.testing import synthetic_run

T, M, E = 4, 2, 3
PER_EPOCH = T * M


@pytest.fixture(scope="module")
def small_run() -> xr.Dataset:
    return make_small_run()


def elements(obj: hv.core.Dimensioned, kind: type) -> list[hv.Element]:
    return obj.traverse(lambda e: e, [kind])


def test_document_loss_draws_one_curve_per_chosen_document_with_the_stored_values(small_run):
    overlay = plots.document_loss(small_run.loss, docs=[0, 2, 3])
    curves = elements(overlay, hv.Curve)
    assert [c.label for c in curves] == ["doc 0", "doc 2", "doc 3"]
    for curve, doc in zip(curves, [0, 2, 3], strict=True):
        np.testing.assert_allclose(curve.dimension_values("loss"), small_run.loss.sel(doc=doc))
        np.testing.assert_allclose(curve.dimension_values("progress"), small_run.step / PER_EPOCH)


def test_document_loss_shades_each_training_block_and_marks_the_loss_before_it(small_run):
    overlay = plots.document_loss(small_run.loss, docs=[1])
    (spans,) = elements(overlay, hv.VSpans)
    # doc 1 is trained at steps 3-4, 11-12, 19-20: blocks span [2, 4], [10, 12], [18, 20]
    np.testing.assert_allclose(spans.dimension_values(0), np.array([2, 10, 18]) / PER_EPOCH)
    np.testing.assert_allclose(spans.dimension_values(1), np.array([4, 12, 20]) / PER_EPOCH)
    (markers,) = elements(overlay, hv.Scatter)
    np.testing.assert_allclose(
        markers.dimension_values("loss"), small_run.loss.sel(doc=1)[[2, 10, 18]]
    )


def test_document_loss_overlays_runs_on_the_same_axes(small_run):
    overlay = plots.document_loss({"small": small_run.loss, "large": small_run.loss}, docs=[0, 1])
    labels = [c.label for c in elements(overlay, hv.Curve)]
    assert labels == ["small: doc 0", "small: doc 1", "large: doc 0", "large: doc 1"]


def test_training_blocks_span_from_the_step_before_the_first_update_to_the_last():
    assert training_blocks(np.array([-1, 1, 1, 0, 0, 1, 1]), doc=1) == [(0, 2), (4, 6)]


def test_loss_heatmap_data_equals_the_loss_array(small_run):
    image = plots.loss_heatmap(small_run.loss)
    assert isinstance(image, hv.Image)
    np.testing.assert_array_equal(image.dimension_values(2, flat=False), small_run.loss.values.T)
    assert len(image.dimension_values(2)) == small_run.sizes["step"] * T


def test_loss_heatmap_keeps_only_evaluated_steps_when_evaluation_is_per_document(small_run):
    sparse = small_run.loss.where(small_run.step % M == 0)
    image = plots.loss_heatmap(sparse)
    every_block = small_run.loss.values[::M].T
    np.testing.assert_array_equal(image.dimension_values(2, flat=False), every_block)


def aligned_result(mean: list[float]) -> xr.Dataset:
    offset = np.arange(len(mean))
    return xr.Dataset(
        {"mean": ("offset", mean), "std": ("offset", np.full(len(mean), 0.5))},
        coords={"offset": offset, "offset_epochs": ("offset", offset / 2)},
    )


def test_aligned_curves_draw_mean_and_spread_per_run_and_mark_whole_epochs():
    runs = {
        "160m": aligned_result([3, 2, 2.5, 2.2, 1.0]),
        "1b": aligned_result([2, 1, 1.5, 1.2, 0.5]),
    }
    overlay = plots.aligned_curves_plot(runs)
    curves = elements(overlay, hv.Curve)
    assert [c.label for c in curves] == ["160m", "1b"]
    np.testing.assert_allclose(curves[1].dimension_values("loss"), [2, 1, 1.5, 1.2, 0.5])
    spreads = elements(overlay, hv.Spread)
    assert len(spreads) == 2
    np.testing.assert_allclose(spreads[0].dimension_values("std"), 0.5)
    (epochs,) = elements(overlay, hv.VLines)
    np.testing.assert_allclose(epochs.dimension_values(0), [1, 2])  # offsets reach 2 epochs


def test_aligned_curves_split_a_run_dimension():
    stacked = xr.concat([aligned_result([3, 2, 1]), aligned_result([2, 1, 0])], dim="run")
    stacked = stacked.assign_coords(run=["a", "b"])
    assert [c.label for c in elements(plots.aligned_curves_plot(stacked), hv.Curve)] == ["a", "b"]


def test_recovery_scores_one_line_per_run_on_integer_presentations():
    score = xr.DataArray(
        [0.1, 0.4, 0.6, 0.7], dims="presentation", coords={"presentation": [1, 2, 3, 4]}
    )
    overlay = plots.recovery_scores({"410m": score, "1b": score * 1.2})
    curves = elements(overlay, hv.Curve)
    assert len(curves) == 2
    np.testing.assert_allclose(curves[1].dimension_values(1), [0.12, 0.48, 0.72, 0.84])
    figure = hv.render(overlay, backend="bokeh")
    assert figure.legend and all(legend in figure.right for legend in figure.legend)  # off the data


def test_recovery_matrix_has_one_cell_per_document_pair_and_a_symmetric_colour_range():
    values = np.arange(T * T, dtype=float).reshape(T, T) - 5
    matrix = xr.DataArray(
        values, dims=("doc", "trained_doc"), coords={"doc": range(T), "trained_doc": range(T)}
    )
    heat = plots.recovery_matrix_plot(matrix)
    assert len(heat.dimension_values(2)) == T * T
    np.testing.assert_array_equal(heat.dimension_values(2, flat=False), values)
    clim = hv.Store.lookup_options("bokeh", heat, "plot").kwargs["clim"]
    assert clim == (-10.0, 10.0)


def test_recovery_matrix_by_distance_labels_the_distance_axis():
    matrix = xr.DataArray(np.zeros((T, T)), dims=("doc", "distance"))
    matrix = matrix.assign_coords(doc=range(T), distance=range(T))
    assert plots.recovery_matrix_plot(matrix).kdims[0].name == "distance"


def test_recovery_matrix_refuses_a_matrix_of_several_runs():
    matrix = xr.DataArray(np.zeros((2, T, T)), dims=("run", "doc", "trained_doc"))
    with pytest.raises(ValueError, match="select one run"):
        plots.recovery_matrix_plot(matrix)


def test_document_similarity_cells_equal_the_similarity_matrix():
    values = np.random.default_rng(1).random((T, T))
    sim = xr.DataArray(
        values, dims=("doc", "other_doc"), coords={"doc": range(T), "other_doc": range(T)}
    )
    heat = plots.document_similarity(sim.assign_coords(snapshot_step=16), method="cka")
    np.testing.assert_array_equal(heat.dimension_values(2, flat=False), values)
    assert "after step 16" in heat.opts.get(backend="bokeh").kwargs["title"]


def test_snapshot_similarity_axes_are_in_epochs_when_snapshot_steps_are_known():
    steps = np.arange(0, 17, 2)
    sim = xr.DataArray(np.eye(9), dims=("snapshot", "other_snapshot"))
    sim = sim.assign_coords(snapshot_step=("snapshot", steps), doc=0)
    heat = plots.snapshot_similarity(sim, steps_per_epoch=8)
    assert isinstance(heat, hv.Image)
    np.testing.assert_allclose(np.unique(heat.dimension_values(0)), steps / 8)
    # snapshots only at the ends of epochs (0, 8, 24): uneven, so a QuadMesh keeps them in place
    uneven = xr.DataArray(np.eye(3), dims=("snapshot", "other_snapshot"))
    uneven = uneven.assign_coords(snapshot_step=("snapshot", [0, 8, 24]))
    assert isinstance(plots.snapshot_similarity(uneven, steps_per_epoch=8), hv.QuadMesh)


def trajectory(n_snapshots: int = 13, n_components: int = 3) -> xr.Dataset:
    snapshot_step = np.arange(n_snapshots) * M
    epoch = np.concatenate([[-1], np.repeat(np.arange(E), T)])[:n_snapshots]
    position = np.concatenate([[-1], np.tile(np.arange(T), E)])[:n_snapshots]
    return xr.Dataset(
        {
            "projection": (
                ("snapshot", "component"),
                np.random.default_rng(2).random((n_snapshots, n_components)),
            ),
            "explained_variance_ratio": ("component", np.linspace(0.5, 0.1, n_components)),
        },
        coords={
            "snapshot_step": ("snapshot", snapshot_step),
            "epoch": ("snapshot", epoch),
            "cycle_position": ("snapshot", position),
            "trained_doc": ("snapshot", position),
        },
    )


def test_weight_trajectory_has_one_point_per_snapshot_with_step_epoch_and_document_on_hover():
    traj = trajectory()
    overlay = plots.weight_trajectory_plot(traj, components=(0, 2), color_by="cycle_position")
    (points,) = elements(overlay, hv.Points)
    assert len(points) == 13
    np.testing.assert_allclose(points.dimension_values(0), traj.projection[:, 0])
    np.testing.assert_allclose(points.dimension_values(1), traj.projection[:, 2])
    assert [d.name for d in points.vdims] == [
        "snapshot_step",
        "epoch",
        "cycle_position",
        "trained_doc",
    ]
    assert points.kdims[1].label == "PC3 (10.0% var.)"
    style = hv.Store.lookup_options("bokeh", points, "style").kwargs
    assert style["color"] == "cycle_position"


@pytest.mark.parametrize(("n_components", "panels"), [(2, 1), (3, 3)])
def test_trajectory_panels_show_every_pair_of_components(n_components, panels):
    assert len(plots.trajectory_panels(trajectory(), n_components=n_components)) == panels


def test_weight_trajectory_3d_and_a_clear_error_when_components_are_missing():
    (scatter,) = elements(plots.weight_trajectory_3d(trajectory()), hv.Scatter3D)
    assert len(scatter) == 13
    with pytest.raises(ValueError, match="n_components=3"):
        plots.weight_trajectory_3d(trajectory(n_components=2))


def test_large_grids_are_rasterised_and_long_curves_downsampled_small_ones_kept():
    steps, docs = 5001, 100  # 500,100 values > MAX_POINTS
    assert steps * docs > MAX_POINTS
    run = synthetic_run(np.zeros((steps, docs)), steps_per_doc=50, num_epochs=1)
    image = plots.loss_heatmap(run.loss)
    reduced = plots.for_browser(image)
    assert isinstance(reduced, hv.DynamicMap)
    assert "rasterize" in str(reduced.callback.operation).lower()
    curves = plots.document_loss(run.loss, docs=list(range(50)), blocks=False)
    assert isinstance(plots.for_browser(curves), hv.DynamicMap)
    small = plots.document_loss(run.loss, docs=[0], blocks=False)
    assert plots.for_browser(small) is small


def test_a_heatmap_drawn_straight_with_bokeh_shows_the_values_and_the_shared_colour_limit():
    from bokeh.models import Image, Quad, Span

    from reawaken.plots.grid import grid_figure

    values = np.arange(T * T, dtype=float).reshape(T, T) - 5
    values[1, 2] = np.nan
    matrix = xr.DataArray(
        values, dims=("doc", "trained_doc"), coords={"doc": range(T), "trained_doc": range(T)}
    )
    fig = grid_figure(plots.recovery_matrix_plot(matrix, limit=12.5))
    (renderer,) = fig.renderers
    assert isinstance(renderer.glyph, Image)
    np.testing.assert_array_equal(renderer.data_source.data["image"][0], values)
    mapper = renderer.glyph.color_mapper
    assert (mapper.low, mapper.high) == (-12.5, 12.5)
    assert mapper.palette[0] != mapper.palette[-1]  # a diverging map, not one colour
    assert (fig.x_range.start, fig.x_range.end) == (-0.5, T - 0.5)  # cells centred on docs
    assert fig.xaxis[0].axis_label == "trained document j"
    assert fig.title.text.startswith("Pairwise recovery")
    # Uneven snapshot steps: one cell per value at its true place, and the chosen step marked.
    steps = np.array([0, 8, 16, 24, 40])
    over_time = xr.DataArray(
        np.arange(25.0).reshape(5, 5) / 25,
        dims=("snapshot", "other_snapshot"),
        coords={"snapshot_step": ("snapshot", steps)},
    )
    fig = grid_figure(plots.snapshot_similarity(over_time, steps_per_epoch=8, mark_step=16))
    (renderer,) = fig.renderers
    assert isinstance(renderer.glyph, Quad)
    data = renderer.data_source.data
    np.testing.assert_allclose(data["value"], over_time.values.ravel())
    np.testing.assert_allclose(np.unique(data["left"]), [-0.5, 0.5, 1.5, 2.5, 4.0])
    mapper = renderer.glyph.fill_color.transform
    assert (mapper.low, mapper.high) == (0.0, 24 / 25)  # no clim given: the values' range
    marks = [(s.dimension, s.location) for s in fig.center if isinstance(s, Span)]
    assert marks == [("height", 2.0), ("width", 2.0)]
    assert grid_figure(plots.document_points(plots_pca())) is None


def plots_pca() -> xr.Dataset:
    angle = np.arange(5) * 2 * np.pi / 5
    projection = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return xr.Dataset(
        {"projection": (("doc", "component"), projection)},
        coords={"doc": np.arange(5), "component": [1, 2]},
    )


def test_an_overlays_own_options_are_the_same_as_set_layer_by_layer():
    from reawaken.plots.style import curve_style, styled

    layers = [curve_style(hv.Curve([0, i, 2 * i], label=f"run {i}"), "#1f77b4") for i in range(3)]
    options = {
        "common": {"xlabel": "epochs", "ylabel": "loss (nats)"},
        "bokeh": {"title": "Loss", "legend_position": "right"},
        "matplotlib": {"legend_position": "best"},
    }
    quick = styled(hv.Overlay(layers), **options)
    walked = hv.Overlay(layers)  # what styled did before: HoloViews walks every layer
    for backend in ("bokeh", "matplotlib"):
        own = {**options["common"], **options[backend]}
        walked = walked.opts(backend=backend, **own)
    assert [layer.label for layer in quick] == ["run 0", "run 1", "run 2"]
    for backend in ("bokeh", "matplotlib"):
        for group in ("plot", "style"):
            assert (
                hv.Store.lookup_options(backend, quick, group).kwargs
                == hv.Store.lookup_options(backend, walked, group).kwargs
            )
        for fast, slow in zip(quick, walked, strict=True):
            style = hv.Store.lookup_options(backend, fast, "style").kwargs
            assert style == hv.Store.lookup_options(backend, slow, "style").kwargs
            assert style["color"] == "#1f77b4"
    assert hv.Store.lookup_options("bokeh", quick, "plot").kwargs["title"] == "Loss"

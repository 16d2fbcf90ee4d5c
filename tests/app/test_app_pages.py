"""The app's pages without a server: set the selection, check the data each figure holds."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import pytest
import xarray as xr
from app_stores import E, M, T, finish_running_store, make_run, make_runs_folder
from bokeh.models import HoverTool

from reawaken import analysis, plots
from reawaken.app import data
from reawaken.app.pages import (
    MechanismPage,
    RecoveryPage,
    RepresentationsPage,
    RunsPage,
    WeightsPage,
)
from reawaken.app.shell import App
from reawaken.app.state import AppState
from reawaken.errors import StoreError
from reawaken.store import open_run
from reawaken.store.check import check_run
from reawaken.store.writer import RunWriter


@pytest.fixture(scope="module")
def pristine_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_runs_folder(tmp_path_factory.mktemp("app"))


@pytest.fixture
def runs_folder(pristine_runs: Path, tmp_path: Path) -> Path:
    """A fresh copy of the runs folder per test (tests may change stores)."""
    return Path(shutil.copytree(pristine_runs, tmp_path / "runs", symlinks=True))


def state_for(runs: Path, *selected: str) -> AppState:
    return AppState(runs_dir=str(runs), selected=list(selected))


def figures(view: pn.viewable.Viewable) -> list[hv.core.Dimensioned]:
    """The HoloViews objects shown in ``view``."""
    return [pane.object for pane in view.select(pn.pane.HoloViews)]


def drawn(view: pn.viewable.Viewable) -> list[Any]:
    """The Bokeh figures drawn directly in ``view`` (overlays of runs' curves)."""
    return [pane.object for pane in view.select(pn.pane.Bokeh)]


def lines(fig: Any) -> tuple[list[str], list[np.ndarray]]:
    """Label and y values of every curve of a directly drawn figure, in drawing order."""
    from bokeh.models import MultiLine

    labels, ys = [], []
    for renderer in fig.renderers:
        if isinstance(renderer.glyph, MultiLine):
            labels += list(renderer.data_source.data["series"])
            ys += list(renderer.data_source.data["ys"])
    return labels, ys


def grids(view: pn.viewable.Viewable) -> list[Any]:
    """The heatmaps drawn directly in ``view`` (Bokeh figures of one image or set of cells)."""
    from bokeh.models import Image, Quad

    return [f for f in drawn(view) if isinstance(f.renderers[0].glyph, Image | Quad)]


def grid_values(fig: Any) -> np.ndarray:
    """The (y, x) values a directly drawn heatmap shows, rows in ascending y."""
    from bokeh.models import Image

    renderer = fig.renderers[0]
    data = renderer.data_source.data
    if isinstance(renderer.glyph, Image):
        return np.asarray(data["image"][0])
    shape = (len(np.unique(data["bottom"])), len(np.unique(data["left"])))
    return np.asarray(data["value"]).reshape(shape)


def colour_limits(fig: Any) -> tuple[float, float]:
    """The low and high ends of a directly drawn heatmap's colour map."""
    from bokeh.models import Image

    glyph = fig.renderers[0].glyph
    mapper = glyph.color_mapper if isinstance(glyph, Image) else glyph.fill_color.transform
    return mapper.low, mapper.high


def alerts(view: pn.viewable.Viewable) -> list[str]:
    return [pane.object for pane in view.select(pn.pane.Alert)]


def elements(obj: hv.core.Dimensioned, kind: type) -> list[hv.Element]:
    return obj.traverse(lambda e: e, [kind])


def test_scan_lists_every_store_and_says_what_is_wrong_with_the_bad_ones(runs_folder):
    entries = {entry.name: entry for entry in data.scan_runs(runs_folder)}
    assert sorted(entries) == ["alpha", "beta", "damaged", "escape", "noloss", "nosnap", "running"]
    assert entries["damaged"].status == "damaged"
    assert "metadata cannot be read" in entries["damaged"].error
    assert entries["escape"].status == "refused"
    assert entries["running"].progress == pytest.approx(50.0)
    assert (entries["alpha"].model, entries["alpha"].num_docs) == ("pythia-160m", T)


def test_paths_outside_the_runs_folder_are_refused(runs_folder):
    for outside in ("../outside.zarr", runs_folder.parent / "outside.zarr", "escape.zarr", "/etc"):
        with pytest.raises(StoreError, match="outside the runs folder"):
            data.load_run(runs_folder, outside)
    assert data.load_run(runs_folder, "alpha.zarr").sizes["doc"] == T


def test_load_run_is_cached_until_the_run_advances(runs_folder):
    path = runs_folder / "running.zarr"
    first = data.load_run(runs_folder, path)
    assert data.load_run(runs_folder, path) is first
    finish_running_store(path, make_run())
    again = data.load_run(runs_folder, path)
    assert again is not first
    assert again.attrs["completed_steps"] == T * M * E


def test_runs_table_shows_status_progress_config_and_score(runs_folder):
    page = RunsPage(state=state_for(runs_folder, "alpha"))
    table = page.table.value.set_index("name")
    assert table.loc["running", "progress"] == 50.0
    assert table.loc["beta", ["model", "order", "T", "M", "E", "optimizer"]].tolist() == [
        "pythia-1b",
        "cyclic",
        T,
        M,
        E,
        "sgd",
    ]
    # RS: the paper's recovery score at the last epoch, i.e. RS(n) of the last presentation.
    rs = analysis.paper_recovery_score(open_run(runs_folder / "alpha.zarr"))
    assert rs["presentation"].values[-1] == E - 1
    assert table.loc["alpha", "RS"] == pytest.approx(float(rs.isel(presentation=-1)))
    assert np.isnan(table.loc["running", "RS"])  # half-way: RS(E-1) not reached yet
    assert table.loc["noloss", "status"] == "damaged"
    assert "'loss' is missing" in table.loc["noloss", "message"]
    assert np.isnan(table.loc["damaged", "RS"])


def test_selecting_rows_sets_the_runs_of_every_page(runs_folder):
    page = RunsPage(state=state_for(runs_folder, "alpha"))
    names = page.table.value["name"].tolist()
    page.table.selection = [names.index("beta"), names.index("running")]
    assert page.state.selected == ["beta", "running"]


def test_recovery_curves_follow_the_chosen_documents(runs_folder):
    state = state_for(runs_folder, "alpha")
    page = RecoveryPage(state=state)
    loss = open_run(runs_folder / "alpha.zarr").loss
    state.docs = [0, 2]
    (fig,) = drawn(page.document_curves())
    labels, ys = lines(fig)
    assert labels == ["alpha: doc 0", "alpha: doc 2"]
    np.testing.assert_allclose(ys[1], loss.sel(doc=2))
    page.doc_choice.value = [1, 2, 3]  # the widget drives the shared state
    (fig,) = drawn(page.document_curves())
    assert len(lines(fig)[0]) == 3


def test_recovery_overlays_several_runs_on_the_same_axes(runs_folder):
    page = RecoveryPage(state=state_for(runs_folder, "alpha", "beta"))
    (aligned,) = drawn(page.aligned())
    labels, ys = lines(aligned)
    assert labels == ["alpha", "beta"]
    expected = analysis.aligned_curves(open_run(runs_folder / "beta.zarr"))["mean"]
    np.testing.assert_allclose(ys[1], expected.dropna("offset"))
    (scores,) = drawn(page.scores())
    assert len(lines(scores)[0]) == 2


def test_heatmap_holds_the_loss_and_the_matrix_switches_to_cyclic_distance(runs_folder):
    page = RecoveryPage(state=state_for(runs_folder, "alpha"))
    heat, matrix = grids(page.per_run())
    ds = open_run(runs_folder / "alpha.zarr")
    np.testing.assert_allclose(grid_values(heat), ds.loss.values.T)
    assert colour_limits(heat) == (float(ds.loss.min()), float(ds.loss.max()))
    assert matrix.xaxis[0].axis_label == "trained document j"
    expected = analysis.recovery_matrix(ds).transpose("doc", "trained_doc")
    np.testing.assert_allclose(grid_values(matrix), expected.values, equal_nan=True)
    page.matrix_order = "cyclic distance"
    _, matrix = grids(page.per_run())
    assert matrix.xaxis[0].axis_label.startswith("cyclic distance")
    expected = analysis.recovery_matrix(ds, by_distance=True).transpose("doc", "distance")
    np.testing.assert_allclose(grid_values(matrix), expected.values, equal_nan=True)


def test_side_by_side_matrices_share_one_symmetric_colour_limit(runs_folder):
    page = RecoveryPage(state=state_for(runs_folder, "alpha", "beta"))
    shown = grids(page.per_run())
    assert [f.title.text for f in shown].count("Loss of every document") == 2
    matrices = {
        name: analysis.recovery_matrix(open_run(runs_folder / f"{name}.zarr"))
        for name in ("alpha", "beta")
    }
    limit = plots.symmetric_limit(*matrices.values())
    for fig, matrix in zip(shown[1::2], matrices.values(), strict=True):
        values = matrix.transpose("doc", "trained_doc").values
        np.testing.assert_allclose(grid_values(fig), values, equal_nan=True)
        assert colour_limits(fig) == (-limit, limit)
    # The limit is the larger of the two matrices' own: one scale, not two.
    assert limit == max(plots.symmetric_limit(m) for m in matrices.values())


def test_a_stored_pairwise_matrix_is_shown_beside_the_in_run_one(runs_folder):
    store = runs_folder / "alpha.zarr"
    change = np.arange(T * T, dtype=np.float32).reshape(T, T) - 10  # row = trained doc j
    RunWriter(store).add_variable(
        "pairwise_loss_change",
        xr.DataArray(change, dims=("source_doc", "doc"), attrs={"epoch": 2, "step": 2 * T * M}),
    )
    page = RecoveryPage(state=state_for(runs_folder, "alpha"))
    _, in_run, pairwise = grids(page.per_run())
    assert in_run.xaxis[0].axis_label == pairwise.xaxis[0].axis_label == "trained document j"
    # rows of the heatmap are evaluated documents i: the stored matrix, transposed
    np.testing.assert_allclose(grid_values(pairwise), change.T)
    assert "after epoch 2" in pairwise.title.text
    assert check_run(store) == []


def test_a_bad_run_shows_a_message_and_the_others_still_plot(runs_folder):
    page = RecoveryPage(state=state_for(runs_folder, "alpha", "noloss", "damaged"))
    view = page.per_run()
    assert len(grids(view)) == 2  # alpha's heatmap and matrix
    messages = alerts(view)
    assert len(messages) == 2
    assert any("'loss' is missing" in m for m in messages)
    assert any("metadata cannot be read" in m for m in messages)
    curves = page.document_curves()
    assert len(drawn(curves)) == 1 and len(alerts(curves)) == 2


def test_representations_follow_the_snapshot_player_and_the_document(runs_folder):
    state = state_for(runs_folder, "alpha")
    page = RepresentationsPage(state=state)
    view = page.per_run()
    ds = open_run(runs_folder / "alpha.zarr")
    steps = ds.snapshot_step.values.tolist()
    assert page.player.options == steps  # the player counts steps, the latest shown first
    assert page.player.value == steps[-1] and state.snapshot_step == -1
    between, over_time = grids(view)
    latest = analysis.representation_similarity(ds)
    np.testing.assert_allclose(grid_values(between), latest.values)
    page.player.value = steps[3]
    assert state.snapshot_step == steps[3]
    view = page.per_run()
    between, over_time, points = drawn(view)
    at_3 = analysis.representation_similarity(ds, snapshot=3)
    np.testing.assert_allclose(grid_values(between), at_3.values)
    # The right-hand plot marks the chosen snapshot, in epochs.
    marks = [span.location for span in over_time.center if span.dimension == "height"]
    assert marks == [pytest.approx(steps[3] / (T * M))]
    pca_3 = analysis.representation_pca(ds)["projection"].sel(snapshot=3)
    data = points.renderers[-1].data_source.data  # the ring, then the points
    np.testing.assert_allclose(data["x"], pca_3.sel(component=1).values)
    np.testing.assert_allclose(data["y"], pca_3.sel(component=2).values)
    assert data["doc"].tolist() == list(range(T))
    page.doc_choice.value = 2
    _, over_time = grids(page.per_run())
    expected = analysis.representation_similarity(ds, doc=2)
    np.testing.assert_allclose(grid_values(over_time), expected.values)


def test_the_player_of_a_running_run_names_the_step_its_plot_shows(runs_folder):
    state = state_for(runs_folder, "running")
    page = RepresentationsPage(state=state)
    ds = open_run(runs_folder / "running.zarr")
    written = ds.snapshot_step.values[ds.snapshot_step.values <= ds.attrs["completed_steps"]]
    assert page.player.options == written.tolist()
    between, _ = grids(page.per_run())
    assert between.title.text.endswith(f"after step {page.player.value}")


def test_a_run_without_snapshots_says_so_on_the_snapshot_pages(runs_folder):
    state = state_for(runs_folder, "nosnap", "alpha")
    representations = RepresentationsPage(state=state).per_run()
    assert len(grids(representations)) == 2 and len(drawn(representations)) == 3
    (text,) = alerts(representations)
    assert "no 'activation'" in text and "nosnap" in text
    weights = WeightsPage(state=state).per_run()
    (text,) = alerts(weights)
    assert "no weight snapshots" in text


def scatter(fig: Any) -> Any:
    """The one scatter renderer of a directly drawn figure of points."""
    from bokeh.models import Scatter

    (renderer,) = [r for r in fig.renderers if isinstance(r.glyph, Scatter)]
    return renderer


def test_weights_page_draws_one_point_per_snapshot_in_every_pair_of_components(runs_folder):
    page = WeightsPage(state=state_for(runs_folder, "alpha"))
    trajectory = analysis.weight_trajectory(
        open_run(runs_folder / "alpha.zarr"), n_components=3, source="weight_sketch"
    )
    projection = trajectory["projection"].transpose("snapshot", "component").values
    (fig,) = drawn(page.per_run())
    dots = scatter(fig)
    data = dots.data_source.data
    assert len(data["x"]) == E * T + 1
    np.testing.assert_allclose(np.abs(data["x"]), np.abs(projection[:, 0]), rtol=1e-5)
    np.testing.assert_allclose(np.abs(data["y"]), np.abs(projection[:, 1]), rtol=1e-5)
    for name in ("snapshot_step", "epoch", "trained_doc"):
        assert data[name].tolist() == trajectory[name].values.tolist()
    # One colour per epoch, integer ticks; step 0 (epoch -1) takes the first colour.
    mapper = dots.glyph.fill_color.transform
    assert dots.glyph.fill_color.field == "epoch"
    assert (mapper.low, mapper.high, len(mapper.palette)) == (-0.5, E - 0.5, E)
    (bar,) = fig.right
    assert bar.ticker.ticks == list(range(E)) and bar.title == "epoch"
    (hover,) = [tool for tool in fig.tools if isinstance(tool, HoverTool)]
    assert [label for label, _ in hover.tooltips][2:] == [
        "step",
        "epoch",
        "position in cycle",
        "document",
    ]
    assert fig.title.text.startswith("Weight trajectory")

    page.n_components = 3
    figs = drawn(page.per_run())
    pairs = [(f.xaxis[0].axis_label[:3], f.yaxis[0].axis_label[:3]) for f in figs]
    assert pairs == [("PC1", "PC2"), ("PC1", "PC3"), ("PC2", "PC3")]
    np.testing.assert_allclose(
        np.abs(scatter(figs[2]).data_source.data["y"]), np.abs(projection[:, 2]), rtol=1e-5
    )
    # The title on the first panel, the colour bar on the last: neither repeated.
    assert [bool(f.title.text) for f in figs] == [True, False, False]
    assert [len(f.right) for f in figs] == [0, 0, 1]

    page.color_by = "cycle_position"
    figs = drawn(page.per_run())
    dots = scatter(figs[0])
    assert dots.glyph.fill_color.field == "cycle_position"
    assert len(dots.glyph.fill_color.transform.palette) == T


def test_refresh_notices_a_running_run_advancing(runs_folder):
    state = state_for(runs_folder, "running")
    page = RunsPage(state=state)
    version = state.version
    finish_running_store(runs_folder / "running.zarr", make_run())
    state.refresh()
    assert state.version == version + 1
    row = page.table.value.set_index("name").loc["running"]
    assert (row["status"], row["progress"]) == ("completed", 100.0)
    state.refresh()  # nothing changed: no new version, no redraw
    assert state.version == version + 1


def test_app_opens_on_the_first_readable_run_and_keeps_the_page_in_sync(runs_folder):
    app = App(runs_dir=str(runs_folder))
    assert app.state.selected == ["alpha"]
    app.page = "weights"
    assert app.tabs.active == 3
    app.tabs.active = 1
    assert app.page == "recovery"


def test_a_page_in_a_hidden_tab_draws_nothing_until_it_is_opened_again(runs_folder):
    app = App(runs_dir=str(runs_folder), page="weights")
    app.tabs.get_root()  # the browser shows Weights: its plots are drawn
    shown = app.tabs.objects[3]
    app.tabs.active = 0  # back on the Runs page, two more runs are ticked
    app.state.selected = ["alpha", "beta"]
    app.state.selected = ["alpha", "beta", "nosnap"]
    (pane,) = [p for p in shown.select(pn.param.ParamMethod) if p.object.__name__ == "per_run"]
    assert len(pane._inner_layout[0].objects) == 1  # still alpha's card alone: nothing redrawn
    app.page = "weights"  # opened: drawn once, with the runs ticked meanwhile
    cards = pane._inner_layout[0].objects
    assert [card.title.split(":")[0] for card in cards] == ["alpha", "beta", "nosnap"]


def test_an_empty_runs_folder_gives_an_empty_table_and_hints(tmp_path):
    app = App(runs_dir=str(tmp_path))
    assert app.state.selected == []
    assert len(app.pages["runs"].table.value) == 0
    assert "Select a run" in alerts(pn.Column(app.pages["weights"].per_run()))[0]


def test_a_write_to_a_closed_tab_is_logged_without_a_traceback(caplog):
    from tornado.websocket import WebSocketClosedError

    from reawaken.app.shell import retrieve_closed_socket_writes

    loop = asyncio.new_event_loop()
    seen: list[dict] = []
    loop.set_exception_handler(lambda loop, context: seen.append(context))
    retrieve_closed_socket_writes(loop)
    with caplog.at_level(logging.INFO, logger="reawaken.app.shell"):
        loop.call_exception_handler(
            {"message": "never retrieved", "exception": WebSocketClosedError()}
        )
        loop.call_exception_handler({"message": "other", "exception": ValueError("real")})
    loop.close()
    assert "its browser tab had closed" in caplog.text
    assert [context["message"] for context in seen] == ["other"]  # other errors still go on


def test_mechanism_export_buttons_write_what_reawaken_figures_writes(runs_folder, tmp_path):
    from reawaken.plots.export import write_figures

    state = state_for(runs_folder, "alpha")
    page = MechanismPage(state=state)
    page.doc_choice.value = 1
    buttons = {b.filename: b for b in page.per_run().select(pn.widgets.FileDownload)}
    assert "update_magnitudes_doc1_alpha.png" in buttons
    assert "weight_residual_similarity_alpha.png" in buttons
    files = write_figures([runs_folder / "alpha.zarr"], tmp_path, what=["mechanism"], docs=[1])
    for name, written in (
        ("update_magnitudes_doc1_alpha.png", "update_magnitudes_doc1.png"),
        ("weight_residual_similarity_alpha.png", "weight_residual_similarity.png"),
    ):
        expected = next(f for f in files if f.name == written)
        assert buttons[name].callback().getvalue() == expected.read_bytes()


def test_sweep_page_draws_rs_against_a_config_value_with_an_interval_over_seeds(tmp_path):
    from app_stores import write

    from reawaken.app.pages import SweepPage
    from reawaken.store.combine import open_runs

    runs = tmp_path / "sweep"
    runs.mkdir()
    for lr in (1e-3, 1e-4):
        for seed in range(3):
            config = {"optimizer.lr": lr, "seed": seed}
            write(make_run(seed=seed + int(lr * 1e4), config=config), runs / f"lr{lr}-s{seed}.zarr")
    page = SweepPage(state=state_for(runs))
    page.x = "optimizer_lr"
    (overlay,) = figures(page.view())
    (bars,) = elements(overlay, hv.ErrorBars)
    # Expected by hand: RS of the last presentation, mean and t-interval over the 3 seeds.
    rs = analysis.paper_recovery_score(open_runs(runs)).isel(presentation=-1)
    for i, lr in enumerate(sorted({1e-3, 1e-4})):
        values = rs.where(rs["optimizer_lr"] == lr, drop=True).values
        mean, sem = values.mean(), values.std(ddof=1) / np.sqrt(3)
        assert bars.dimension_values(0)[i] == pytest.approx(lr)
        assert bars.dimension_values(1)[i] == pytest.approx(mean)
        assert bars.dimension_values(2)[i] == pytest.approx(4.302653 * sem, rel=1e-5)
    page.lines = "seed"  # one line per seed: single runs, no interval
    (overlay,) = figures(page.view())
    assert len(elements(overlay, hv.Curve)) == 3


def test_sweep_page_first_shows_a_value_that_differs_and_its_widget_says_so(tmp_path):
    from app_stores import write

    from reawaken.app.pages import SweepPage

    runs = tmp_path / "sweep"
    runs.mkdir()
    for lr in (1e-3, 1e-4):  # every run has the same model: lr is what differs
        write(make_run(config={"optimizer.lr": lr}), runs / f"lr{lr}.zarr")
    page = SweepPage(state=state_for(runs))
    assert page.x == "model"  # before the runs are read
    layout = page.__panel__()
    assert page.x == "optimizer_lr" and page._x.value == "optimizer_lr"
    assert "optimizer_lr" in page._x.options and "model" in page._x.options
    (overlay,) = figures(page.view())
    assert (
        "against optimizer_lr" in hv.Store.lookup_options("bokeh", overlay, "plot").kwargs["title"]
    )
    page._x.value = "model"  # the reader's choice stays, though all runs share it
    assert page.x == "model"
    page._runs_changed()
    assert page.x == "model" and layout is not None


def test_beyond_four_runs_only_the_first_card_is_drawn_until_the_others_are_opened(runs_folder):
    four = RecoveryPage(state=state_for(runs_folder, "alpha", "beta", "nosnap", "running"))
    assert [card.collapsed for card in four.per_run().objects] == [False] * 4
    page = RecoveryPage(
        state=state_for(runs_folder, "alpha", "beta", "nosnap", "running", "noloss")
    )
    view = page.per_run()
    cards = view.objects
    assert [card.collapsed for card in cards] == [False] + [True] * 4
    # In the table's order: alpha (open), beta, noloss, nosnap, running (closed).
    assert len(grids(view)) == 2 and not any(card.objects for card in cards[1:])
    assert cards[2].title.startswith("noloss") and cards[4].title.startswith("running")
    cards[2].collapsed = False  # opening a card draws it: here a message
    assert "'loss' is missing" in alerts(cards[2])[0]
    cards[4].collapsed = False
    assert len(grids(cards[4])) == 2
    # A refresh that changes nothing reuses the cards, plots and all.
    assert all(a is b for a, b in zip(page.per_run().objects, cards, strict=True))


def test_mechanism_page_draws_residual_similarity_and_update_sizes_from_the_store(runs_folder):
    state = state_for(runs_folder, "alpha")
    page = MechanismPage(state=state)
    page.doc_choice.value = 1
    view = page.per_run()
    ds = open_run(runs_folder / "alpha.zarr")
    residual = analysis.weight_residual_similarity(ds)
    (heat,) = grids(view)
    np.testing.assert_allclose(grid_values(heat), residual.values, equal_nan=True)
    # The update sizes: two panels side by side, each drawn as its own figure.
    panels = {fig.title.text: fig for fig in drawn(view) if fig.title.text.startswith("Change")}
    assert list(panels) == ["Change of doc 1's activation", "Change of the weights"]
    moves = analysis.update_magnitudes(ds, doc=1)["activation_update"].values
    (activation,) = lines(panels["Change of doc 1's activation"])[1]
    np.testing.assert_allclose(activation, moves[np.isfinite(moves)])
    # alpha stores no gradient sketches: that view says which key would store them
    assert any("grad_sketch" in text for text in alerts(view))


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven small runs: enough for the many-runs view of the overlays."""
    from app_stores import write

    runs = tmp_path_factory.mktemp("many")
    for seed in range(7):
        write(make_run(seed=seed, snapshots=False, config={"seed": seed}), runs / f"r{seed}.zarr")
    return runs


def test_many_runs_are_drawn_as_one_glyph_per_kind_with_each_runs_data_and_colour(many_runs):
    from bokeh.models import MultiLine

    state = state_for(many_runs, *(f"r{seed}" for seed in range(7)))
    page = RecoveryPage(state=state)
    colors = state.colors_of(state.selected)
    (fig,) = [pane.object for pane in page.scores().select(pn.pane.Bokeh)]
    (lines,) = [r for r in fig.renderers if isinstance(r.glyph, MultiLine)]
    source = lines.data_source.data
    assert source["series"] == state.selected
    assert source["color"] == [colors[name] for name in state.selected]
    for name, ys in zip(source["series"], source["ys"], strict=True):
        expected = analysis.paper_recovery_score(open_run(many_runs / f"{name}.zarr"))
        np.testing.assert_allclose(ys, expected.values)
    legend = [item.label.value for item in fig.legend[0].items]
    assert legend == state.selected and fig.title.text == "Recovery score"
    # The document curves: one line per run, its loss of the chosen document.
    (fig,) = [pane.object for pane in page.document_curves().select(pn.pane.Bokeh)]
    (lines,) = [r for r in fig.renderers if isinstance(r.glyph, MultiLine)]
    loss = open_run(many_runs / "r3.zarr").loss.sel(doc=0).values
    np.testing.assert_allclose(lines.data_source.data["ys"][3], loss[np.isfinite(loss)])
    assert len(set(lines.data_source.data["color"])) == 7


def test_warming_computes_each_runs_results_once_for_every_page(many_runs, monkeypatch):
    calls: list[str] = []

    def counted(function):
        def run(ds, **options):
            calls.append(function.__name__)
            return function(ds, **options)

        return run

    for name in ("paper_recovery_score", "aligned_curves", "prequential_loss", "recovery_matrix"):
        monkeypatch.setattr(analysis, name, counted(getattr(analysis, name)))
    app = App(runs_dir=str(many_runs))
    app.warm()
    # Four analyses per run for the recovery page, and the sweep page's score of all runs.
    assert sorted(set(calls)) == ["aligned_curves", "paper_recovery_score", "prequential_loss",
                                  "recovery_matrix"] and len(calls) == 4 * 7 + 1  # fmt: skip
    app.state.selected = [f"r{seed}" for seed in range(7)]
    page = app.pages["recovery"]
    for view in (page.aligned, page.scores, page.online, page.per_run):
        view()
    assert len(calls) == 4 * 7 + 1  # every figure came from the warmed cache

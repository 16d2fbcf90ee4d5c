"""A second evaluation set: the held-out field of the same documents, at the loss cadence."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import reawaken
from reawaken.config import RunConfig
from reawaken.data import builtin_corpus_path
from reawaken.errors import ConfigError
from reawaken.models import load_model
from reawaken.train import run_experiment
from reawaken.train.checkpoint import latest_checkpoint

T, M, E, C = 3, 2, 2, 24


@pytest.fixture(scope="module")
def corpus_with_highlights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Articles and, as "highlights", their first paragraph."""
    path = tmp_path_factory.mktemp("highlights") / "articles.jsonl"
    with path.open("w") as out:
        for line in builtin_corpus_path().read_text().splitlines()[:8]:
            record = json.loads(line)
            text = record["text"]
            row = {"id": record["id"], "article": text, "highlights": text.split("\n\n")[0]}
            out.write(json.dumps(row) + "\n")
    return path


def heldout_losses_by_hand(
    config: RunConfig, source_ids: list[str], weights: dict[str, torch.Tensor] | None = None
) -> list[float]:
    """Each document's highlights loss, one plain forward at a time, as the paper's code did."""
    loaded = load_model(config.model, seed=config.seed)
    if weights is not None:
        loaded.model.load_state_dict(weights)
    lines = Path(config.data.source).read_text().splitlines()
    highlights = {json.loads(line)["id"]: json.loads(line)["highlights"] for line in lines}
    losses = []
    for source_id in source_ids:
        ids = torch.tensor([loaded.tokenize(highlights[source_id], C)])
        with torch.no_grad():
            losses.append(float(loaded.model(input_ids=ids, labels=ids).loss))
    return losses


def test_heldout_loss_is_each_documents_second_text_loss(
    make_config: Callable[..., RunConfig], corpus_with_highlights: Path, tmp_path: Path
) -> None:
    config = make_config(f"data.source={corpus_with_highlights}", "data.heldout_field=highlights")
    store = run_experiment(config, tmp_path / "h.zarr", progress=False).path
    ds = reawaken.open_run(store)
    source_ids = [str(i) for i in ds.source_id.values]
    assert ds.heldout_loss.dims == ("step", "heldout_doc")
    assert ds.sizes["heldout_doc"] == T
    assert np.isfinite(ds.heldout_loss.values).all()  # evaluation.every=step: every step
    # before training: the loss of the untouched model on each highlight, by hand
    np.testing.assert_allclose(
        ds.heldout_loss.values[0], heldout_losses_by_hand(config, source_ids), rtol=1e-5
    )
    # after the last step: the same with the weights of the final checkpoint
    checkpoint = latest_checkpoint(store)
    assert checkpoint is not None and checkpoint.step == E * T * M
    weights = load_file(str(checkpoint.path / "model.safetensors"))
    np.testing.assert_allclose(
        ds.heldout_loss.values[-1], heldout_losses_by_hand(config, source_ids, weights), rtol=1e-5
    )
    assert not np.allclose(ds.heldout_loss.values[0], ds.heldout_loss.values[-1])


def test_heldout_follows_the_evaluation_cadence(
    make_config: Callable[..., RunConfig], corpus_with_highlights: Path, tmp_path: Path
) -> None:
    config = make_config(
        f"data.source={corpus_with_highlights}",
        "data.heldout_field=highlights",
        "evaluation.every=doc",
    )
    ds = reawaken.open_run(run_experiment(config, tmp_path / "d.zarr", progress=False).path)
    evaluated = np.isfinite(ds.heldout_loss.values).all(axis=1)
    assert np.flatnonzero(evaluated).tolist() == list(range(0, E * T * M + 1, M))
    assert np.array_equal(evaluated, np.isfinite(ds.loss.values).all(axis=1))


def test_missing_heldout_field_names_the_key(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"no field 'summary' \(set data\.heldout_field"):
        run_experiment(
            make_config("data.heldout_field=summary"), tmp_path / "x.zarr", progress=False
        )
    assert not (tmp_path / "x.zarr").exists()

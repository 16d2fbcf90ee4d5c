"""Shared fixtures: a tiny saved model, a tiny corpus, a tiny config, a finished tiny run, and
a way to stop the runner at a chosen step."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

# Before transformers is imported anywhere: never call the hub from a test (a call otherwise
# retries for ~30 s), and keep the built-in model's cache out of the user's home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("REAWAKEN_CACHE", tempfile.mkdtemp(prefix="reawaken-cache-"))

import pytest

from reawaken.config import RunConfig, load_config
from reawaken.data import builtin_corpus_path

# --doctest-modules would import conftest files as test modules too (and trip over two
# modules named `conftest`); they hold no doctests.
collect_ignore_glob = ["conftest.py", "*/conftest.py"]

TINY_ARCHITECTURE = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved GPT-NeoX checkpoint folder (config, tokenizer, weights): a stand-in hub model."""
    from reawaken.models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("model"), weights=True, **TINY_ARCHITECTURE)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local JSONL corpus shaped like cnn_dailymail (``id``, ``article``), 8 documents."""
    path = tmp_path_factory.mktemp("corpus") / "articles.jsonl"
    lines = builtin_corpus_path().read_text().splitlines()[:8]
    with path.open("w") as out:
        for line in lines:
            record = json.loads(line)
            out.write(json.dumps({"id": record["id"], "article": record["text"]}) + "\n")
    return path


@pytest.fixture(scope="session")
def make_config(tiny_model_dir: Path, tiny_corpus: Path) -> Callable[..., RunConfig]:
    """Factory of tiny configs (T=3, C=24, M=2, E=2) on the local model and corpus.

    Evaluated after every step and checkpointed after every block, so that the tests see
    (and resume from) every step; a named model otherwise runs the paper's setting.
    """

    def make(*overrides: str) -> RunConfig:
        base = [
            f"model.name={tiny_model_dir}",
            "model.pretrained=true",
            f"data.source={tiny_corpus}",
            "data.text_field=article",
            "data.num_docs=3",
            "data.context_length=24",
            "schedule.steps_per_doc=2",
            "schedule.num_epochs=2",
            "optimizer.name=sgd",
            "optimizer.lr=0.5",
            "probes.sketch_size=16",
            "evaluation.every=step",
            "checkpoint.every=doc",
        ]
        return load_config(overrides=[*base, *overrides])

    return make


@pytest.fixture(scope="session")
def finished_run(
    make_config: Callable[..., RunConfig], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A completed tiny run written by the real runner."""
    from reawaken.train import run_experiment

    path = tmp_path_factory.mktemp("runs") / "tiny.zarr"
    run_experiment(make_config(), path, progress=False)
    return path


@pytest.fixture
def interrupt_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """``interrupt_at(n)``: the runner's n-th train step raises KeyboardInterrupt, what Ctrl-C
    raises (``monkeypatch.undo()`` lets the runner train normally again)."""
    from reawaken.train import runner

    def arm(call: int) -> None:
        real_step, calls = runner.train_step, {"n": 0}

        def step(*args: object) -> object:
            calls["n"] += 1
            if calls["n"] == call:
                raise KeyboardInterrupt
            return real_step(*args)

        monkeypatch.setattr(runner, "train_step", step)

    return arm

"""Fidelity switches and run resources: resize to the tokenizer, gradient clipping, threads."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import reawaken
from reawaken.config import ModelConfig, OptimizerConfig, RunConfig
from reawaken.models import load_model, save_tiny_model
from reawaken.train import run_experiment
from reawaken.train.setup import resolve_threads
from reawaken.train.steps import build_optimizer, train_step

TOKENIZER_SIZE = 2048  # the bundled tokenizer's
SHAPE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}


@pytest.fixture(scope="module")
def padded_vocab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint with 27 unused embedding rows, as Pythia's 50,304 for 50,277 tokens."""
    folder = tmp_path_factory.mktemp("padded")
    return save_tiny_model(folder, weights=True, vocab_size=TOKENIZER_SIZE + 27, **SHAPE)


def test_resize_to_tokenizer_cuts_the_unused_rows_and_their_logits(padded_vocab_dir: Path) -> None:
    saved = load_file(str(padded_vocab_dir / "model.safetensors"))
    config = ModelConfig(name=str(padded_vocab_dir))
    assert config.resize_to_tokenizer  # on by default, as in the authors' scripts
    cut = load_model(config, seed=0)
    kept = load_model(config.model_copy(update={"resize_to_tokenizer": False}), seed=0)
    assert cut.info["vocab_rows"] == f"{TOKENIZER_SIZE + 27} -> {TOKENIZER_SIZE}"
    assert kept.info["vocab_rows"] == str(TOKENIZER_SIZE + 27)
    for name, model in (
        ("gpt_neox.embed_in.weight", "get_input_embeddings"),
        ("embed_out.weight", "get_output_embeddings"),
    ):
        weight = getattr(cut.model, model)().weight
        assert weight.shape[0] == TOKENIZER_SIZE
        assert torch.equal(weight, saved[name][:TOKENIZER_SIZE])
    # The loss is the softmax over the tokenizer's rows only, as the paper's numbers are.
    ids = torch.tensor([cut.tokenize("def f(x):\n    return x + 1  # add one", 64)])
    with torch.no_grad():
        full = kept.model(input_ids=ids).logits[0, :-1]
        loss_cut = cut.model(input_ids=ids, labels=ids).loss.item()
        loss_kept = kept.model(input_ids=ids, labels=ids).loss.item()
    assert loss_cut == pytest.approx(F.cross_entropy(full[:, :TOKENIZER_SIZE], ids[0, 1:]).item())
    assert loss_kept == pytest.approx(F.cross_entropy(full, ids[0, 1:]).item())
    assert loss_kept > loss_cut + 1e-4


def _update(clip: float | None, model_dir: Path) -> tuple[dict, dict, float]:
    """(gradient, parameter change, returned norm) of one SGD step at lr 1."""
    model = load_model(ModelConfig(name=str(model_dir)), seed=0).model
    ids = torch.arange(1, 40)[None]
    model.train()
    model(input_ids=ids, labels=ids).loss.backward()
    gradient = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = build_optimizer(model, OptimizerConfig(name="sgd", lr=1.0))
    loss = lambda: model(input_ids=ids, labels=ids).loss  # noqa: E731
    norm = train_step(model, optimizer, loss, clip_grad_norm=clip).grad_norm
    change = {n: before[n] - p.detach() for n, p in model.named_parameters()}
    return gradient, change, norm.item()


def test_clip_grad_norm_scales_the_update_to_the_limit(tiny_model_dir: Path) -> None:
    assert OptimizerConfig().clip_grad_norm is None  # off by default, as in the paper
    gradient, change, norm = _update(None, tiny_model_dir)
    total = torch.sqrt(sum((g.double() ** 2).sum() for g in gradient.values())).item()
    assert norm == pytest.approx(total, rel=1e-5)
    for name in gradient:
        torch.testing.assert_close(change[name], gradient[name])
    limit = total / 4
    _, clipped, clipped_norm = _update(limit, tiny_model_dir)
    assert clipped_norm == pytest.approx(total, rel=1e-5)  # the norm before clipping
    for name in gradient:
        torch.testing.assert_close(clipped[name], gradient[name] * limit / total)


def test_threads_key_sets_torch_threads_for_the_run_and_is_recorded(
    make_config: Callable[..., RunConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reawaken.train.runner import CyclicRun

    seen: list[int] = []
    train = CyclicRun.train

    def recording_train(self: CyclicRun, progress: object) -> None:
        seen.append(torch.get_num_threads())
        train(self, progress)

    monkeypatch.setattr(CyclicRun, "train", recording_train)
    before = torch.get_num_threads()
    result = run_experiment(make_config("threads=1"), tmp_path / "t.zarr", progress=False)
    assert seen == [1]  # the run trained on one thread
    assert reawaken.open_run(result.path).attrs["threads"] == 1
    assert torch.get_num_threads() == before  # and gave the process its setting back


def test_default_threads_follow_omp_num_threads_else_the_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert resolve_threads(None) == 3
    assert resolve_threads(5) == 5
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert resolve_threads(None) == len(os.sched_getaffinity(0))


def test_clipping_reaches_the_runner(make_config: Callable[..., RunConfig], tmp_path: Path) -> None:
    free = run_experiment(make_config(), tmp_path / "free.zarr", progress=False)
    held = run_experiment(
        make_config("optimizer.clip_grad_norm=1e-9"), tmp_path / "held.zarr", progress=False
    )
    free_loss = reawaken.open_run(free.path).loss.values
    held_loss = reawaken.open_run(held.path).loss.values
    assert np.abs(free_loss[1] - free_loss[0]).max() > 1e-2  # lr 0.5 moves the losses
    np.testing.assert_allclose(
        held_loss[1:], held_loss[0][None].repeat(len(held_loss) - 1, 0), atol=1e-6
    )

"""Training-input noise: masking at rate p with labels kept, shifted windows, exact resume."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import reawaken
from reawaken.config import RunConfig, load_config
from reawaken.errors import RunFailed, RunInterrupted
from reawaken.train import resume_experiment, run_experiment
from reawaken.train import steps as train_steps
from reawaken.train.noise import TrainingNoise, centre_window

T, M, E, C = 3, 2, 2, 24


def test_masking_hits_the_configured_fraction_and_keeps_labels() -> None:
    config = load_config(overrides=["noise.mask_prob=0.3", "noise.mask_token=7"])
    noise = TrainingNoise(config, pad_id=0)
    ids = torch.arange(100, 164)[None]  # no id equals the mask token
    masked = []
    for _ in range(500):
        inputs, labels = noise(ids)
        assert torch.equal(labels, ids)  # the model still predicts the true tokens
        kept = inputs == ids
        assert ((inputs == 7) | kept).all()  # a position is either kept or masked to 7
        masked.append((~kept).float().mean().item())
    assert np.mean(masked) == pytest.approx(0.3, abs=0.01)  # 32,000 draws: sd 0.0026
    assert len({tuple(m) for m in [noise(ids)[0][0].tolist() for _ in range(5)]}) == 5


def test_window_shifts_are_uniform_within_w_around_the_centre() -> None:
    config = load_config(
        overrides=["data.context_length=512", "noise.window_size=256", "noise.window_shift=128"]
    )
    noise = TrainingNoise(config, pad_id=0)
    assert centre_window(512, 256) == (128, 384)  # the paper's [C/4, 3C/4)
    starts = np.array([noise.shift(512)[0] for _ in range(4000)]) - 128
    assert starts.min() == -128 and starts.max() == 128
    assert abs(starts.mean()) < 5 and starts.std() == pytest.approx(257 / np.sqrt(12), rel=0.05)
    # a short document limits the shifts to those that keep the window inside it
    short = [noise.shift(300) for _ in range(500)]
    assert all(start >= 0 and stop <= 300 and stop - start == 256 for start, stop in short)


def capture_steps(monkeypatch: pytest.MonkeyPatch) -> list[tuple[torch.Tensor, torch.Tensor]]:
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    real_step = train_steps.train_step

    def recording_step(model: torch.nn.Module, *args: object) -> object:
        def record(module: object, positional: object, kwargs: dict) -> None:
            seen.append((kwargs["input_ids"].clone(), kwargs["labels"].clone()))

        hook = model.register_forward_pre_hook(record, with_kwargs=True)
        try:
            return real_step(model, *args)
        finally:
            hook.remove()

    monkeypatch.setattr("reawaken.train.runner.train_step", recording_step)
    return seen


def test_masked_run_trains_on_masked_inputs_and_true_labels(
    make_config: Callable[..., RunConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = capture_steps(monkeypatch)
    config = make_config("noise.mask_prob=0.25", "noise.mask_token=0")
    ds = reawaken.open_run(run_experiment(config, tmp_path / "m.zarr", progress=False).path)
    docs = ds.trained_doc.values[1:]
    hits = total = 0
    for (inputs, labels), doc in zip(seen, docs, strict=True):
        original = torch.tensor(ds.tokens.values[doc][: int(ds.n_tokens.values[doc])])
        assert torch.equal(labels[0], original)  # labels: the unmasked document
        changed = inputs[0] != labels[0]
        assert (inputs[0][changed] == 0).all()
        hits, total = hits + int(changed.sum()), total + len(original)
    assert len(seen) == E * T * M
    assert hits / total == pytest.approx(0.25, abs=0.1)  # ~290 positions
    # evaluation stays clean: step 0 equals an unmasked run's
    plain = run_experiment(make_config(), tmp_path / "p.zarr", progress=False).path
    clean = reawaken.open_run(plain)
    assert np.array_equal(ds.loss.values[0], clean.loss.values[0])
    assert not np.array_equal(ds.loss.values[-1], clean.loss.values[-1])


def test_window_run_trains_on_shifted_slices_and_evaluates_the_centre(
    make_config: Callable[..., RunConfig],
    tiny_corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = capture_steps(monkeypatch)
    config = make_config(
        "data.context_length=32",
        "noise.window_size=16",
        "noise.window_shift=8",
        "schedule.num_epochs=4",
    )
    ds = reawaken.open_run(run_experiment(config, tmp_path / "w.zarr", progress=False).path)
    from reawaken.data import load_documents
    from reawaken.models import load_model

    loaded = load_model(config.model, seed=0)
    full = load_documents(config.data, loaded.tokenize, seed=config.seed).input_ids
    assert all(len(ids) == 32 for ids in full)  # long enough for every shift
    # the store's tokens are the evaluated centre windows [8, 24)
    assert ds.tokens.values.tolist() == [list(ids[8:24]) for ids in full]
    offsets = []
    for (inputs, labels), doc in zip(seen, ds.trained_doc.values[1:], strict=True):
        assert torch.equal(inputs, labels)  # no masking here
        window = labels[0].tolist()
        assert len(window) == 16
        starts = [s for s in range(17) if list(full[doc][s : s + 16]) == window]
        assert starts, "every training window is a slice of its document"
        offsets.append(starts[0] - 8)
    assert min(offsets) >= -8 and max(offsets) <= 8
    assert len(set(offsets)) > 4  # really shifted, step by step


@pytest.fixture(scope="module")
def noisy_config(make_config: Callable[..., RunConfig]) -> RunConfig:
    return make_config(
        "noise.mask_prob=0.3",
        "data.context_length=32",
        "noise.window_shift=4",
        "optimizer.name=adam",
        "optimizer.lr=0.01",
        "optimizer.reset_per_doc=false",
        "schedule.num_epochs=3",
    )


def test_resume_with_noise_is_bit_identical(
    noisy_config: RunConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupt_at: Callable[[int], None],
) -> None:
    reference = reawaken.open_run(
        run_experiment(noisy_config, tmp_path / "whole.zarr", progress=False).path
    )
    store = tmp_path / "stopped.zarr"
    interrupt_at(4 * M + 2)  # mid-block 5; checkpoints after every block
    with pytest.raises(RunInterrupted, match=r"^interrupted"):
        run_experiment(noisy_config, store, progress=False)
    monkeypatch.undo()
    resume_experiment(store, progress=False)
    resumed = reawaken.open_run(store)
    for name in ("loss", "train_loss", "grad_norm", "weight_sketch"):
        assert np.array_equal(resumed[name].values, reference[name].values, equal_nan=True), name

    # Without the generator state from the checkpoint, the masks after the resume differ.
    again = tmp_path / "forgetful.zarr"
    interrupt_at(4 * M + 2)
    with pytest.raises(RunFailed):
        run_experiment(noisy_config, again, progress=False)
    monkeypatch.undo()
    monkeypatch.setattr(TrainingNoise, "load_state_dict", lambda self, state: None)
    resume_experiment(again, progress=False)
    forgetful = reawaken.open_run(again)
    assert np.array_equal(forgetful.loss.values[: 4 * M + 1], reference.loss.values[: 4 * M + 1])
    assert not np.array_equal(forgetful.train_loss.values, reference.train_loss.values)

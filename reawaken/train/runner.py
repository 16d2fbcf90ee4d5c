"""The cyclic run: set up model, documents and store, then train block by block.

The loop in :meth:`CyclicRun.train` reads top to bottom: pick the block's document, take M
steps, evaluate, snapshot, write. Everything else is one named call.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from reawaken.config import RunConfig
from reawaken.data import DocumentSet
from reawaken.errors import ConfigError, RunFailed, RunInterrupted, StoreError
from reawaken.models import LoadedModel
from reawaken.store.reader import read_attrs
from reawaken.store.schema import SCHEMA_VERSION, run_template
from reawaken.store.writer import RunWriter, ensure_writable
from reawaken.train.checkpoint import (
    CheckpointPolicy,
    checkpoint_dir,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from reawaken.train.evaluate import Evaluation, evaluate_documents, make_batches
from reawaken.train.noise import TrainingNoise
from reawaken.train.probes import CountSketch, copy_weights, gradient_sketches
from reawaken.train.setup import (
    evaluated_documents,
    prepare,
    snapshot_steps,
    store_layout,
    versions,
)
from reawaken.train.signals import signals_held, sigterm_as_interrupt
from reawaken.train.steps import BlockBuffer, build_optimizer, scheduled_lr, set_lr, train_step

__all__ = ["CyclicRun", "RunResult", "resume_experiment", "run_experiment"]

SKETCH_SEED_OFFSET = 7919  # the sketch's seed differs from the run's, yet follows from it


@dataclass(frozen=True)
class RunResult:
    path: Path
    status: str
    completed_steps: int
    wall_seconds: float


class CyclicRun:
    """One run's model, documents, order and store; :meth:`train` does the work."""

    def __init__(
        self,
        config: RunConfig,
        loaded: LoadedModel,
        documents: DocumentSet,
        writer: RunWriter,
        order: np.ndarray,
        layers: list[int],
    ) -> None:
        self.config = config
        self.model = loaded.model
        self.device = loaded.device
        self.documents = documents
        self.writer = writer
        self.order = order
        self.layers = layers
        self.steps_per_doc = config.schedule.steps_per_doc
        self.total_steps = config.total_steps
        self.examples = [torch.tensor([ids], device=self.device) for ids in documents.input_ids]
        self.noise = TrainingNoise(config, pad_id=loaded.pad_id)
        self.evaluated = evaluated_documents(config, documents)
        self.batches = make_batches(
            self.evaluated,
            pad_id=loaded.pad_id,
            device=self.device,
            batch_size=config.evaluation.batch_size,
        )
        heldout = documents.heldout
        self.heldout_batches = (
            make_batches(
                heldout,
                pad_id=loaded.pad_id,
                device=self.device,
                batch_size=config.evaluation.batch_size,
            )
            if heldout is not None
            else []
        )
        self.snapshot_steps = snapshot_steps(config)
        self.snapshot_set = {int(s) for s in self.snapshot_steps}
        probes = config.probes
        self.sketch = (
            CountSketch(self.model, size=probes.sketch_size, seed=config.seed + SKETCH_SEED_OFFSET)
            if probes.sketch_size and len(self.snapshot_steps)
            else None
        )
        self.initial = [p.detach().clone() for p in self.model.parameters()] if self.sketch else []
        self.completed_steps = 0
        self.optimizer = build_optimizer(self.model, config.optimizer)
        self.checkpoints = CheckpointPolicy.of(config)

    def evaluate(self, *, at_snapshot: bool) -> Evaluation:
        """Every document's loss; at a snapshot also the probes that evaluation computes."""
        return evaluate_documents(
            self.model,
            self.batches,
            layers=self.layers if at_snapshot else (),
            chunk_tokens=self.config.evaluation.chunk_tokens,
            autocast=self.config.model.autocast,
            token_losses=at_snapshot and self.config.probes.token_loss,
        )

    def evaluate_heldout(self) -> torch.Tensor | None:
        """Loss of each document's second text (``data.heldout_field``), if configured."""
        if not self.heldout_batches:
            return None
        return evaluate_documents(
            self.model,
            self.heldout_batches,
            chunk_tokens=self.config.evaluation.chunk_tokens,
            autocast=self.config.model.autocast,
        ).loss

    def training_example(self, doc: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, labels) of one step on ``doc``: the document, or its perturbed copy."""
        example = self.examples[doc]
        return self.noise(example) if self.noise.active else (example, example)

    def snapshot(self, evaluation: Evaluation) -> dict[str, np.ndarray]:
        """The probes at the current weights, as host arrays named as in the store."""
        arrays: dict[str, torch.Tensor] = {}
        if evaluation.activation is not None:
            arrays["activation"] = evaluation.activation
        if evaluation.token_loss is not None:
            arrays["token_loss"] = evaluation.token_loss.half()
        if self.sketch is not None:
            change = (p - p0 for p, p0 in zip(self.model.parameters(), self.initial, strict=True))
            arrays["weight_sketch"] = self.sketch(change)
            if self.config.probes.grad_sketch:
                arrays["grad_sketch"] = gradient_sketches(self.model, self.examples, self.sketch)
        if self.config.probes.weights:
            arrays["weight"] = copy_weights(self.model, self.config.probes.weights)
        return {name: values.cpu().numpy() for name, values in arrays.items()}

    def write_start(self) -> None:
        """Step 0: every document's loss (and snapshot 0) before any update."""
        evaluation = self.evaluate(at_snapshot=len(self.snapshot_steps) > 0)
        arrays = {"loss": evaluation.loss.cpu().numpy()[None]}
        heldout = self.evaluate_heldout()
        if heldout is not None:
            arrays["heldout_loss"] = heldout.cpu().numpy()[None]
        self.writer.write_steps(0, arrays)
        if len(self.snapshot_steps):
            self.writer.write_snapshot(0, self.snapshot(evaluation))

    def blocks(self, first_step: int) -> Iterator[tuple[int, int, int]]:
        """(epoch, cycle_position, doc) of each block from step ``first_step`` on."""
        start = first_step // self.steps_per_doc
        for block, (epoch, position) in enumerate(np.ndindex(*self.order.shape)):
            if block >= start:
                yield epoch, position, int(self.order[epoch, position])

    def resume_from(self, step: int) -> None:
        """Continue after ``step``: restore its checkpoint (none at 0), clear later data."""
        if step:
            checkpoint = latest_checkpoint(self.writer.path, at_most=step)
            if checkpoint is None or checkpoint.step != step:
                raise StoreError(f"no checkpoint at step {step} beside {self.writer.path}")
            extra = load_checkpoint(checkpoint, self.model, self.optimizer)
            if "noise" in extra:  # the masks and shifts continue where the run left them
                self.noise.load_state_dict(extra["noise"])
        self.writer.clear_after(step)
        self.completed_steps = step
        self.writer.set_progress(step)

    def train(self, progress: tqdm) -> None:
        """The cyclic loop: M steps on each block's document, evaluating as configured."""
        every_step = self.config.evaluation.every == "step"
        step = self.completed_steps
        progress.update(step)
        for epoch, position, doc in self.blocks(step):
            if self.config.optimizer.reset_per_doc and step:
                self.optimizer = build_optimizer(self.model, self.config.optimizer)
            first_step = step + 1  # the step after the block's first update
            block = BlockBuffer(self.steps_per_doc, len(self.documents))
            for grad_step in range(self.steps_per_doc):
                inputs, labels = self.training_example(doc)
                set_lr(self.optimizer, self.lr_at(step + 1))
                clip = self.config.optimizer.clip_grad_norm
                block.record_update(train_step(self.model, self.optimizer, inputs, labels, clip))
                step += 1
                last = grad_step == self.steps_per_doc - 1
                snapshot_due = last and step in self.snapshot_set
                if every_step or last:
                    evaluation = self.evaluate(at_snapshot=snapshot_due)
                    block.record_loss(grad_step, evaluation.loss, self.evaluate_heldout())
            snapshot = self.snapshot(evaluation) if snapshot_due else None
            with signals_held():  # a stop must not split a block's data from its progress
                self.write_block(first_step, block, snapshot)
            block.raise_if_not_finite(first_step, doc, epoch)
            if self.checkpoints.due(step):
                save_checkpoint(
                    self.writer.path,
                    step,
                    self.model,
                    self.optimizer if self.checkpoints.saves_optimizer else None,
                    extra={"noise": self.noise.state_dict()},
                    keep=self.config.checkpoint.keep,
                )
                self.checkpoints.written()
            progress.update(self.steps_per_doc)
            progress.set_postfix(
                epoch=f"{epoch + 1}/{len(self.order)}",
                doc=doc,
                pos=position,
                train=f"{block.last_train_loss:.3f}",
                eval=f"{block.last_mean_loss:.3f}",
                refresh=False,
            )

    def lr_at(self, step: int) -> float:
        """The learning rate of gradient step ``step`` (``optimizer.lr_schedule``)."""
        return scheduled_lr(
            self.config.optimizer, step, steps_per_doc=self.steps_per_doc, total=self.total_steps
        )

    def write_block(
        self, first_step: int, block: BlockBuffer, snapshot: dict[str, np.ndarray] | None
    ) -> None:
        """Data first, then ``completed_steps``: the attribute never runs ahead of the data."""
        self.writer.write_steps(first_step, block.to_numpy())
        if snapshot is not None:
            index = int(np.searchsorted(self.snapshot_steps, first_step + self.steps_per_doc - 1))
            self.writer.write_snapshot(index, snapshot)
        self.completed_steps = first_step + self.steps_per_doc - 1
        self.writer.set_progress(self.completed_steps)


def _owner() -> dict[str, object]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _execute(run: CyclicRun, *, fresh: bool, progress: bool, started: float) -> RunResult:
    """Train to the end, marking the store on any stop; the data written so far is kept."""
    writer, path = run.writer, run.writer.path
    total = len(run.order) * len(run.documents) * run.steps_per_doc
    bar = tqdm(total=total, unit="step", desc=path.stem, disable=not progress, dynamic_ncols=True)
    try:
        with sigterm_as_interrupt(), bar:
            if fresh:
                writer.write_array("tokens", run.evaluated.token_matrix())
                run.write_start()
            run.train(bar)
    except KeyboardInterrupt as stop:
        reason = f"interrupted ({stop or 'SIGINT'}) after {run.completed_steps} of {total} steps"
        _mark(writer, "interrupted", reason)
        raise RunInterrupted(
            f"{reason}; the store keeps them: {path} (continue with: reawaken run --resume {path})"
        ) from None
    except RunFailed as error:
        _mark(writer, "failed", str(error))
        raise RunFailed(f"{error}; steps written so far are kept in {path}") from None
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        if isinstance(error, torch.cuda.OutOfMemoryError):
            reason += " (lower evaluation.batch_size or context length)"
        _mark(writer, "failed", reason)
        raise RunFailed(
            f"run failed at step {run.completed_steps}: {reason}; "
            f"steps written so far are kept in {path}"
        ) from error
    writer.mark("completed")
    return RunResult(path, "completed", run.completed_steps, time.perf_counter() - started)


def _mark(writer: RunWriter, status: str, reason: str) -> None:
    """Mark the store; if even that write fails (disk full), say so rather than mask the cause."""
    try:
        writer.mark(status, reason)
    except Exception as error:  # the original failure matters more than this one
        raise RunFailed(
            f"{reason}; the store could not be marked {status} either ({error})"
        ) from None


def run_experiment(
    config: RunConfig,
    store_path: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    preset: str | None = None,
) -> RunResult:
    """Run the cyclic fine-tuning experiment of ``config`` and write ``store_path``.

    Bad configuration fails before the store is created; once it exists, any stop (error,
    non-finite loss, Ctrl-C, SIGTERM) marks it ``failed`` or ``interrupted`` with the reason
    and keeps every step written so far; :func:`resume_experiment` continues it.
    """
    started = time.perf_counter()
    store_path = ensure_writable(store_path, overwrite=overwrite)
    loaded, documents, order, layers = prepare(config)
    layout = store_layout(config, loaded, documents, order, layers)
    attrs = {
        "schema_version": SCHEMA_VERSION,
        "config": config.to_json(),
        "preset": preset or "",
        "seed": config.seed,
        "sketch_seed": config.seed + SKETCH_SEED_OFFSET,
        "versions": versions(),
        "threads": torch.get_num_threads(),
        **loaded.info,
        **_owner(),
    }
    writer = RunWriter.create(store_path, run_template(layout, attrs), overwrite=overwrite)
    shutil.rmtree(checkpoint_dir(store_path), ignore_errors=True)
    run = CyclicRun(config, loaded, documents, writer, order, layers)
    return _execute(run, fresh=True, progress=progress, started=started)


def _still_running_elsewhere(attrs: dict[str, object]) -> bool:
    if attrs.get("status") != "running" or attrs.get("host") != socket.gethostname():
        return False
    pid = attrs.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _differences(
    stored: dict[str, object], given: dict[str, object], prefix: str = ""
) -> list[str]:
    keys = []
    for key in sorted(set(stored) | set(given)):
        a, b = stored.get(key), given.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key} (run: {a!r}, given: {b!r})")
    return keys


def resume_experiment(
    store_path: str | Path, config: RunConfig | None = None, *, progress: bool = True
) -> RunResult:
    """Continue an interrupted or failed run from its last checkpoint.

    ``config`` (optional) must equal the run's stored configuration; the rebuilt model must
    have the same initial weights as the run's. On CPU the resumed ``loss`` is bit-identical
    to an uninterrupted run's.
    """
    started = time.perf_counter()
    store_path = Path(store_path)
    attrs = read_attrs(store_path)
    if attrs.get("status") == "completed":
        return RunResult(store_path, "completed", int(attrs["completed_steps"]), 0.0)
    if _still_running_elsewhere(attrs):
        raise StoreError(
            f"{store_path} is still being written by process {attrs['pid']}; "
            "stop it before resuming"
        )
    stored = RunConfig.from_json(str(attrs["config"]))
    if config is not None and config != stored:
        changed = _differences(json.loads(stored.to_json()), json.loads(config.to_json()))
        raise ConfigError(
            f"cannot resume {store_path} with a different config: " + "; ".join(changed)
        )
    loaded, documents, order, layers = prepare(stored)
    if loaded.info["weights_sha256"] != attrs.get("weights_sha256"):
        raise ConfigError(
            f"cannot resume {store_path}: the model {stored.model.name!r} now has other initial "
            "weights than the run started with (a moved hub revision or a changed local folder)"
        )
    writer = RunWriter(store_path)
    run = CyclicRun(stored, loaded, documents, writer, order, layers)
    checkpoint = latest_checkpoint(store_path, at_most=int(attrs.get("completed_steps", 0)))
    writer.update_attrs(status="running", reason="", **_owner())
    run.resume_from(checkpoint.step if checkpoint else 0)
    return _execute(run, fresh=checkpoint is None, progress=progress, started=started)

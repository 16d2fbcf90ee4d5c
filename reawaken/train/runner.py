"""The cyclic run: set up model, documents and store, then train block by block.

The loop in :meth:`CyclicRun.train` reads top to bottom: pick the block's document, take M
steps, evaluate, snapshot, write. Everything else is one named call.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from reawaken.config import RunConfig
from reawaken.errors import ConfigError, RunFailed, RunInterrupted, StoreError
from reawaken.store.lock import attrs_owner, lock_path, store_lock
from reawaken.store.reader import attribute_problems, config_digest, read_attrs
from reawaken.store.schema import SCHEMA_VERSION, run_template
from reawaken.store.writer import RunWriter, ensure_writable
from reawaken.train.allocator import retained_heap
from reawaken.train.background import BackgroundWriter
from reawaken.train.checkpoint import (
    CheckpointPolicy,
    FrozenState,
    checkpoint_at,
    checkpoint_dir,
    frozen_state,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from reawaken.train.device import tf32_matmuls
from reawaken.train.evaluate import Evaluation
from reawaken.train.probes import CountSketch, copy_weights, gradient_sketches
from reawaken.train.resources import check_resources, check_store_size
from reawaken.train.setup import (
    prepare,
    run_threads,
    snapshot_steps,
    store_layout,
    versions,
)
from reawaken.train.signals import sigterm_as_interrupt
from reawaken.train.steps import BlockBuffer, build_optimizer, scheduled_lr, set_lr, train_step
from reawaken.train.workload import Workload, torch_threads

__all__ = ["CyclicRun", "RunResult", "resume_experiment", "run_experiment"]

SKETCH_SEED_OFFSET = 7919  # the sketch's seed differs from the run's, yet follows from it


@dataclass(frozen=True)
class RunResult:
    path: Path
    status: str
    completed_steps: int
    wall_seconds: float


class CyclicRun:
    """One run's workload (model and documents), order and store; :meth:`train` does the work."""

    def __init__(
        self,
        config: RunConfig,
        workload: Workload,
        writer: RunWriter,
        order: list[np.ndarray],
        layers: list[int],
    ) -> None:
        self.config = config
        self.workload = workload
        self.model = workload.model
        self.device = workload.device
        self.writer = writer
        self.order = order
        self.layers = layers
        self.steps_per_doc = config.schedule.steps_per_doc
        self.total_steps = config.total_steps
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
        # Store writes and checkpoints run on this thread, in order, while training goes on.
        self.background = BackgroundWriter(depth=2)
        self.optimizer = build_optimizer(self.model, config.optimizer)
        self.checkpoints = CheckpointPolicy.of(config)
        epoch_ends = config.epoch_end_steps
        self.kept_steps = {int(epoch_ends[epoch - 1]) for epoch in config.checkpoint.keep_epochs}

    def evaluate(self, *, at_snapshot: bool) -> Evaluation:
        """Every document's loss; at a snapshot also the probes that evaluation computes."""
        return self.workload.evaluate(
            self.layers if at_snapshot else (),
            token_losses=at_snapshot and self.config.probes.token_loss,
        )

    def snapshot(self, evaluation: Evaluation) -> dict[str, torch.Tensor]:
        """The probes at the current weights, named as in the store (still on the device)."""
        arrays: dict[str, torch.Tensor] = {}
        if evaluation.activation is not None:
            arrays["activation"] = evaluation.activation
        if evaluation.token_loss is not None:
            arrays["token_loss"] = evaluation.token_loss.half()
        if self.sketch is not None:
            change = (p - p0 for p, p0 in zip(self.model.parameters(), self.initial, strict=True))
            arrays["weight_sketch"] = self.sketch(change)
            if self.config.probes.grad_sketch:
                arrays["grad_sketch"] = gradient_sketches(
                    self.model, self.workload.document_loss, len(self.workload), self.sketch
                )
        if self.config.probes.weights:
            arrays["weight"] = copy_weights(self.model, self.config.probes.weights)
        return arrays

    def write_start(self) -> None:
        """Step 0: every document's loss (and snapshot 0) before any update."""
        evaluation = self.evaluate(at_snapshot=len(self.snapshot_steps) > 0)
        arrays = {"loss": evaluation.loss.cpu().numpy()[None]}
        heldout = self.workload.evaluate_heldout()
        if heldout is not None:
            arrays["heldout_loss"] = heldout.cpu().numpy()[None]
        self.writer.write_steps(0, arrays)
        if len(self.snapshot_steps):
            snapshot = self.snapshot(evaluation)
            self.writer.write_snapshot(0, {k: v.cpu().numpy() for k, v in snapshot.items()})

    def blocks(self, first_step: int) -> Iterator[tuple[int, int, int]]:
        """(epoch, cycle_position, doc) of each block from step ``first_step`` on; epochs may
        differ in length (one-off documents)."""
        start = first_step // self.steps_per_doc
        every_block = (
            (epoch, position, int(doc))
            for epoch, docs in enumerate(self.order)
            for position, doc in enumerate(docs)
        )
        yield from itertools.islice(every_block, start, None)

    def resume_from(self, step: int) -> None:
        """Continue after ``step``: restore its checkpoint (none at 0), clear later data."""
        if step:
            checkpoint = latest_checkpoint(self.writer.path, at_most=step)
            if checkpoint is None or checkpoint.step != step:
                raise StoreError(f"no checkpoint at step {step} beside {self.writer.path}")
            self.workload.load_state_dict(load_checkpoint(checkpoint, self.model, self.optimizer))
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
            block = BlockBuffer(self.steps_per_doc, len(self.workload))
            for grad_step in range(self.steps_per_doc):
                set_lr(self.optimizer, self.lr_at(step + 1))
                clip = self.config.optimizer.clip_grad_norm
                update = train_step(
                    self.model, self.optimizer, partial(self.workload.training_loss, doc), clip
                )
                self.workload.after_update(doc)
                block.record_update(update)
                step += 1
                last = grad_step == self.steps_per_doc - 1
                snapshot_due = last and step in self.snapshot_set
                if every_step or last:
                    evaluation = self.evaluate(at_snapshot=snapshot_due)
                    block.record_loss(grad_step, evaluation.loss, self.workload.evaluate_heldout())
            snapshot = self.snapshot(evaluation) if snapshot_due else None
            # The block is written (data first, then progress) on the writer thread, in order.
            where = (first_step, doc, epoch, position)
            self.background.submit(self.finish_block, where, block, snapshot, progress)
            if self.checkpoints.due(step) or step in self.kept_steps:
                optimizer = self.optimizer if self.checkpoints.saves_optimizer else None
                model_state, optimizer_state, rng = frozen_state(self.model, optimizer)
                extra = self.workload.state_dict()
                self.background.submit(
                    self.save_checkpoint, step, model_state, optimizer_state, rng, extra
                )
                self.checkpoints.written()
        self.background.flush()

    def lr_at(self, step: int) -> float:
        """The learning rate of gradient step ``step`` (``optimizer.lr_schedule``)."""
        return scheduled_lr(
            self.config.optimizer, step, steps_per_doc=self.steps_per_doc, total=self.total_steps
        )

    def finish_block(
        self,
        where: tuple[int, int, int, int],
        block: BlockBuffer,
        snapshot: dict[str, torch.Tensor] | None,
        progress: tqdm,
    ) -> None:
        """Write a block, stop at a non-finite loss, show progress (on the writer thread)."""
        first_step, doc, epoch, position = where
        host = {name: values.cpu().numpy() for name, values in (snapshot or {}).items()}
        self.write_block(first_step, block, host if snapshot is not None else None)
        block.raise_if_not_finite(first_step, doc, epoch)
        progress.update(self.steps_per_doc)
        progress.set_postfix(
            epoch=f"{epoch + 1}/{len(self.order)}",
            doc=doc,
            pos=position,
            train=f"{block.last_train_loss:.3f}",
            eval=f"{block.last_mean_loss:.3f}",
            refresh=False,
        )

    def save_checkpoint(
        self,
        step: int,
        model: FrozenState,
        optimizer: FrozenState | None,
        rng: dict[str, Any],
        extra: dict[str, Any],
    ) -> None:
        """Write the checkpoint after ``step`` from the host copies taken at that step
        (``optimizer`` None: the run resets it after this step, nothing of it is saved)."""
        save_checkpoint(
            self.writer.path,
            step,
            model,
            optimizer,
            extra,
            keep=self.config.checkpoint.keep,
            protect=self.kept_steps,
            rng=rng,
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
    total = run.total_steps
    bar = tqdm(total=total, unit="step", desc=path.stem, disable=not progress, dynamic_ncols=True)
    try:
        threads = torch_threads(run_threads(run.config, run.workload))
        heap = retained_heap(run.device.type == "cpu")
        with sigterm_as_interrupt(), bar, threads, heap, tf32_matmuls(run.config.model.tf32):
            try:
                if fresh:
                    writer.write_array("tokens", run.workload.token_matrix())
                    run.write_start()
                run.train(bar)
            finally:
                run.background.close()  # blocks already queued reach the store first
    except KeyboardInterrupt as stop:
        reason = (
            f"interrupted ({str(stop) or 'SIGINT'}) after {run.completed_steps} of {total} steps"
        )
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
    _keep_final_checkpoint(path, protect=run.kept_steps)
    return RunResult(path, "completed", run.completed_steps, time.perf_counter() - started)


def _keep_final_checkpoint(store_path: Path, *, protect: Collection[int] = ()) -> None:
    """A completed run needs no resume: keep its final weights (step-N), for inspection, and
    the checkpoints ``checkpoint.keep_epochs`` asks for (``reawaken pairwise`` starts there)."""
    final = latest_checkpoint(store_path)
    kept = {checkpoint_at(store_path, step) for step in protect} | {final}
    kept_paths = {checkpoint.path for checkpoint in kept if checkpoint is not None}
    root = checkpoint_dir(store_path)
    for entry in root.iterdir() if root.is_dir() else []:
        if entry not in kept_paths:
            shutil.rmtree(entry, ignore_errors=True)


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
    store_path = Path(store_path)
    check_resources(config, store_path)
    locked_before = lock_path(store_path).exists()
    ensure_writable(store_path, overwrite=True)  # the name, before a lock is taken beside it
    with store_lock(store_path):  # a live writer is named before "already exists"
        if not locked_before and (store_path / "zarr.json").is_file():
            _refuse_unlocked_writer(store_path, read_attrs(store_path))
        ensure_writable(store_path, overwrite=overwrite)
        workload, order, layers = prepare(config)
        layout = store_layout(config, workload, order, layers)
        config_json = config.to_json()
        attrs = {
            "schema_version": SCHEMA_VERSION,
            "config": config_json,
            "config_sha256": config_digest(config_json),
            "preset": preset or "",
            "seed": config.seed,
            "sketch_seed": config.seed + SKETCH_SEED_OFFSET,
            "versions": versions(),
            "threads": run_threads(config, workload),
            **workload.info,
            **_owner(),
        }
        template = run_template(layout, attrs)
        check_store_size(template, store_path)
        writer = RunWriter.create(store_path, template, overwrite=overwrite)
        shutil.rmtree(checkpoint_dir(store_path), ignore_errors=True)
        run = CyclicRun(config, workload, writer, order, layers)
        return _execute(run, fresh=True, progress=progress, started=started)


def _refuse_unlocked_writer(store_path: Path, attrs: dict[str, object]) -> None:
    """Stores written before locks existed name their live writer in their attrs only."""
    owner = attrs_owner(attrs)
    if (
        attrs.get("status") == "running"
        and owner is not None
        and owner.pid != os.getpid()
        and owner.alive() is True
    ):
        raise StoreError(f"{store_path} is being written by {owner}; stop it first")


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
    locked_before = lock_path(store_path).exists()
    with store_lock(store_path):
        attrs = read_attrs(store_path)  # as it is now that nobody else writes
        if not locked_before:
            _refuse_unlocked_writer(store_path, attrs)
        problems = attribute_problems(attrs)
        if problems:
            raise StoreError(f"{store_path}: {problems[0]}")
        stored = RunConfig.from_json(str(attrs["config"]))
        if config is not None and config != stored:
            changed = _differences(json.loads(stored.to_json()), json.loads(config.to_json()))
            raise ConfigError(
                f"cannot resume {store_path} with a different config: " + "; ".join(changed)
            )
        workload, order, layers = prepare(stored)
        if workload.info["weights_sha256"] != attrs.get("weights_sha256"):
            raise ConfigError(
                f"cannot resume {store_path}: the model {stored.model.name!r} now has other "
                "initial weights than the run started with (a moved hub revision or a changed "
                "local folder)"
            )
        writer = RunWriter(store_path)
        run = CyclicRun(stored, workload, writer, order, layers)
        checkpoint = latest_checkpoint(store_path, at_most=int(attrs.get("completed_steps", 0)))
        writer.update_attrs(status="running", reason="", **_owner())
        run.resume_from(checkpoint.step if checkpoint else 0)
        return _execute(run, fresh=checkpoint is None, progress=progress, started=started)

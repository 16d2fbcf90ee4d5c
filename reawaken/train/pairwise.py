"""The authors' pairwise recovery (their ``dipping_matrix.py``; paper Fig. 8b, 23), after a run.

From the checkpoint after epoch N, each document j in turn is trained alone for M steps
(same optimiser, lr and input noise as the run; a fresh optimiser when the run reset it per
document), starting every time from that same checkpoint, and every document's loss is
evaluated before and after. The change, (source_doc j, doc i), is added to the run's store as
``pairwise_loss_change``; :func:`reawaken.analysis.pairwise_recovery` reads it.
"""

from __future__ import annotations

import copy
from functools import partial
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from reawaken.config import RunConfig
from reawaken.errors import ConfigError, StoreError
from reawaken.store.reader import read_attrs
from reawaken.store.writer import RunWriter
from reawaken.train.allocator import retained_heap
from reawaken.train.checkpoint import Checkpoint, checkpoint_at, load_checkpoint
from reawaken.train.setup import prepare
from reawaken.train.steps import build_optimizer, scheduled_lr, set_lr, train_step
from reawaken.train.workload import Workload, torch_threads

__all__ = ["pairwise_loss_change", "run_pairwise"]


def _check_epoch(config: RunConfig, epoch: int) -> None:
    if not 1 <= epoch <= config.schedule.num_epochs:
        raise ConfigError(
            f"--epoch {epoch} is out of range: the run has epochs "
            f"1..{config.schedule.num_epochs} (N = the checkpoint after the N-th epoch)"
        )


def pairwise_loss_change(
    config: RunConfig, store_path: str | Path, epoch: int, *, progress: bool = False
) -> xr.DataArray:
    """(source_doc, doc): loss change of every doc after M steps on source_doc alone.

    Starts each time from the checkpoint after epoch ``epoch`` (1-based) of the run stored at
    ``store_path``, which ``checkpoint.keep_epochs`` must have kept.
    """
    _check_epoch(config, epoch)
    step = int(config.epoch_end_steps[epoch - 1])
    checkpoint = checkpoint_at(store_path, step)
    if checkpoint is None:
        raise StoreError(
            f"{store_path} has no checkpoint after epoch {epoch} (step {step}); rerun with "
            f"--set 'checkpoint.keep_epochs=[{epoch}]' to keep it"
        )
    workload, _, _ = prepare(config)
    with torch_threads(workload.threads), retained_heap(workload.device.type == "cpu"):
        return _train_each_alone(config, workload, checkpoint, step, epoch, progress)


def _train_each_alone(
    config: RunConfig,
    workload: Workload,
    checkpoint: Checkpoint,
    step: int,
    epoch: int,
    progress: bool,
) -> xr.DataArray:
    steps_per_doc, num_docs = config.schedule.steps_per_doc, config.data.num_docs
    model = workload.model
    optimizer = build_optimizer(model, config.optimizer)
    workload.load_state_dict(load_checkpoint(checkpoint, model, optimizer))
    start_model = copy.deepcopy(model.state_dict())
    start_optimizer = copy.deepcopy(optimizer.state_dict())
    start_extra = copy.deepcopy(workload.state_dict())
    start_rng = torch.get_rng_state()
    before = workload.evaluate(()).loss.float().cpu().numpy()
    rows = []
    total = config.total_steps
    for doc in tqdm(range(num_docs), desc="pairwise", disable=not progress):
        model.load_state_dict(start_model)
        workload.load_state_dict(copy.deepcopy(start_extra))
        torch.set_rng_state(start_rng)
        if config.optimizer.reset_per_doc:
            optimizer = build_optimizer(model, config.optimizer)
        else:
            optimizer.load_state_dict(copy.deepcopy(start_optimizer))
        for grad_step in range(steps_per_doc):
            lr_step = min(step + grad_step + 1, total)  # after the last epoch: the last lr
            set_lr(
                optimizer,
                scheduled_lr(config.optimizer, lr_step, steps_per_doc=steps_per_doc, total=total),
            )
            train_step(model, optimizer, partial(workload.training_loss, doc))
            workload.after_update(doc)
        after = workload.evaluate(()).loss.float().cpu().numpy()
        rows.append(after - before)
    change = np.asarray(rows, dtype=np.float32)
    return xr.DataArray(
        change,
        dims=("source_doc", "doc"),
        coords={"source_doc": np.arange(num_docs), "doc": np.arange(num_docs)},
        attrs={
            "long_name": "change in each document's loss after M steps on source_doc alone",
            "units": "nats",
            "epoch": epoch,
            "step": step,
        },
    )


def run_pairwise(store_path: str | Path, epoch: int, *, progress: bool = True) -> xr.DataArray:
    """Compute :func:`pairwise_loss_change` for a stored run and add it to its store.

    The model and documents are rebuilt from the stored config and the weights loaded from
    the checkpoint; the store's other data is untouched. Running it again replaces the
    variable (one epoch per store).
    """
    store_path = Path(store_path)
    attrs = read_attrs(store_path)
    config = RunConfig.from_json(str(attrs["config"]))
    _check_epoch(config, epoch)
    if int(attrs.get("completed_steps", 0)) < config.epoch_end_steps[epoch - 1]:
        raise StoreError(
            f"{store_path} has not reached the end of epoch {epoch} yet "
            f"(completed_steps {attrs.get('completed_steps')})"
        )
    change = pairwise_loss_change(config, store_path, epoch, progress=progress)
    RunWriter(store_path).add_variable("pairwise_loss_change", change)
    return change

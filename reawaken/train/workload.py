"""What the cyclic loop needs from a model family, and the language models' implementation.

The loop (:mod:`reawaken.train.runner`) is the same for every family: pick the block's
document, take M steps on its loss, evaluate every document, snapshot, write. A
:class:`Workload` supplies the family-specific parts: the loss of one training step, what
follows an update, the evaluation of all documents (and their activations), and the facts
the store's layout needs. Language models (and Image GPT) are :class:`LanguageWorkload`;
the toy model is :class:`reawaken.train.toy.ToyWorkload`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import torch

from reawaken.config import RunConfig
from reawaken.data import DocumentSet
from reawaken.data.documents import read_documents, tokenize_documents
from reawaken.errors import ConfigError
from reawaken.models import LoadedModel, load_model
from reawaken.train.device import (
    autocast,
    compile_model,
    cpu_evaluation_batch_size,
    evaluation_batch_size,
)
from reawaken.train.evaluate import Evaluation, evaluate_documents, make_batches
from reawaken.train.noise import TrainingNoise

__all__ = ["LanguageWorkload", "Workload", "evaluated_documents", "torch_threads"]


class Workload(Protocol):
    """A model and its T documents, as the cyclic loop and the store writer see them.

    ``layers`` are activation layer indices 0..``num_layers``; ``n_tokens``,
    ``source_ids`` and :meth:`token_matrix` fill the store's ``doc`` coordinates and
    ``tokens``; ``hidden_size`` is the width of ``activation``; ``threads`` is the number of
    CPU threads the run should use (None: torch's default), applied by :func:`torch_threads`.
    ``len()`` is T, the evaluated documents 0..T-1; a workload that trains one-off documents
    (``schedule.one_offs``) also takes labels T.. in :meth:`training_loss` and names their
    sources in ``one_off_source_ids``.
    """

    model: torch.nn.Module
    device: torch.device
    info: dict[str, str]
    source_ids: Sequence[str]
    n_tokens: np.ndarray
    hidden_size: int
    num_layers: int
    num_heldout_docs: int
    threads: int | None

    def __len__(self) -> int: ...

    def token_matrix(self) -> np.ndarray: ...

    def training_loss(self, doc: int) -> torch.Tensor:
        """The loss one gradient step on ``doc`` minimises (inputs perturbed if configured)."""
        ...

    def after_update(self, doc: int) -> None:
        """Whatever follows the optimiser step (the toy's fast update; nothing for LMs)."""
        ...

    def evaluate(self, layers: Sequence[int], *, token_losses: bool = False) -> Evaluation:
        """Every document's loss; activations at ``layers`` (none if empty), token losses."""
        ...

    def evaluate_heldout(self) -> torch.Tensor | None: ...

    def document_loss(self, doc: int) -> torch.Tensor:
        """The clean loss of ``doc`` at the current weights, for its gradient."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Use ``count`` CPU threads inside the block and restore the previous number after it.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def evaluated_documents(config: RunConfig, documents: DocumentSet) -> DocumentSet:
    """What evaluation sees: the documents, or their centre windows when training shifts them.

    The store's ``tokens`` and ``n_tokens`` describe these, since ``loss`` averages over them.
    """
    return documents.windows(config.window_size) if config.noise.windowed else documents


def _check_positions(loaded: LoadedModel, documents: DocumentSet) -> None:
    """Documents longer than the model's position table fail deep in torch; say it here."""
    limit = getattr(loaded.model.config, "max_position_embeddings", None)
    longest = int(documents.n_tokens.max())
    if documents.heldout is not None:
        longest = max(longest, int(documents.heldout.n_tokens.max()))
    if isinstance(limit, int) and longest > limit:
        raise ConfigError(
            f"documents have up to {longest} tokens but the model takes at most {limit} "
            f"positions: lower data.context_length (or data.image_size for images) to {limit}"
        )


class LanguageWorkload:
    """A causal LM (or Image GPT) and its tokenised documents; loss = next-token CE."""

    threads = None  # torch's default

    def __init__(self, config: RunConfig, loaded: LoadedModel, documents: DocumentSet) -> None:
        self.config = config
        self.loaded = loaded
        self.model = loaded.model
        self.device = loaded.device
        self.info = loaded.info
        self.documents = documents  # the T cycled documents, then the one-offs (never evaluated)
        num_docs = config.data.num_docs
        cycled = documents.head(num_docs)
        self.evaluated = evaluated_documents(config, cycled)
        self.source_ids = list(cycled.source_ids)
        self.one_off_source_ids = list(documents.source_ids[num_docs:])
        self.n_tokens = self.evaluated.n_tokens
        self.hidden_size = int(loaded.model.config.hidden_size)
        self.num_layers = int(loaded.model.config.num_hidden_layers)
        heldout = cycled.heldout
        self.num_heldout_docs = len(heldout) if heldout is not None else 0
        self.examples = [torch.tensor([ids], device=self.device) for ids in documents.input_ids]
        self.noise = TrainingNoise(config, pad_id=loaded.pad_id)
        if config.model.compile:
            compile_model(self.model)
        batching = {
            "pad_id": loaded.pad_id,
            "device": self.device,
            "batch_size": self.evaluation_batch_size(),
        }
        self.batches = make_batches(self.evaluated, **batching)
        self.heldout_batches = make_batches(heldout, **batching) if heldout is not None else []

    @classmethod
    def build(cls, config: RunConfig) -> LanguageWorkload:
        """Load the model and draw and tokenise the documents (seeded)."""
        # A bad corpus fails before the model loads; one-off documents are drawn with the rest.
        raw = read_documents(config.data, config.seed, extra=config.num_one_offs)
        loaded = load_model(config.model, seed=config.seed)
        documents = tokenize_documents(raw, loaded.tokenize, config.data)
        _check_positions(loaded, documents)
        return cls(config, loaded, documents)

    def evaluation_batch_size(self) -> int:
        """``evaluation.batch_size``; unset, on CUDA as many documents as half the free memory
        holds, elsewhere about ``CPU_BATCH_TOKENS`` tokens' worth."""
        if self.config.evaluation.batch_size:
            return self.config.evaluation.batch_size
        longest = int(max(self.evaluated.n_tokens))
        if self.device.type != "cuda":
            return cpu_evaluation_batch_size(num_docs=len(self.evaluated), tokens=longest)
        free, _ = torch.cuda.mem_get_info(self.device)
        return evaluation_batch_size(
            num_docs=len(self.evaluated),
            tokens=longest,
            hidden=self.hidden_size,
            layers=self.num_layers,
            free_bytes=free,
        )

    def __len__(self) -> int:
        return len(self.evaluated)

    def token_matrix(self) -> np.ndarray:
        return self.evaluated.token_matrix()

    def training_loss(self, doc: int) -> torch.Tensor:
        example = self.examples[doc]
        inputs, labels = self.noise(example) if self.noise.active else (example, example)
        # bf16 autocast acts on CUDA only; on CPU the forward runs exactly as without it.
        with autocast(self.device, self.config.model.autocast):
            return self.model(input_ids=inputs, labels=labels).loss

    def after_update(self, doc: int) -> None:
        return None

    def _evaluate(
        self, batches: Sequence[Any], layers: Sequence[int], token_losses: bool = False
    ) -> Evaluation:
        return evaluate_documents(
            self.model,
            batches,
            layers=layers,
            chunk_tokens=self.config.evaluation.chunk_tokens,
            autocast=self.config.model.autocast,
            token_losses=token_losses,
        )

    def evaluate(self, layers: Sequence[int], *, token_losses: bool = False) -> Evaluation:
        return self._evaluate(self.batches, layers, token_losses)

    def evaluate_heldout(self) -> torch.Tensor | None:
        """Loss of each document's second text (``data.heldout_field``), if configured."""
        return self._evaluate(self.heldout_batches, ()).loss if self.heldout_batches else None

    def document_loss(self, doc: int) -> torch.Tensor:
        example = self.examples[doc]
        return self.model(input_ids=example, labels=example).loss

    def state_dict(self) -> dict[str, Any]:
        return {"noise": self.noise.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "noise" in state:  # the masks and shifts continue where the run left them
            self.noise.load_state_dict(state["noise"])

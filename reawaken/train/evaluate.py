"""Loss of every document in batched forwards, without materialising all logits.

The unembedding and cross-entropy run over chunks of target tokens, so memory stays at
``chunk x vocab`` floats instead of ``docs x tokens x vocab`` (1.3 GB for Pythia's 50k vocab at
T=25, C=256). Chunks are large on purpose: every chunk streams the whole unembedding matrix
(100 MB at Pythia-70m) through the cache, so 83-token chunks (16 MB of logits) made the
evaluation 15-20% slower on CPU than 1,300-token ones (benchmarks/bench_evaluation.py --grid).
Logits are taken as ``output_embeddings(last_hidden_state)``, which is how GPT-NeoX, GPT-2
and Llama-style models compute them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from reawaken.data import DocumentSet
from reawaken.train.device import autocast as autocast_context

__all__ = ["DocumentBatch", "Evaluation", "evaluate_documents", "make_batches"]

LOGIT_BUDGET = 2**26  # floats of logits per chunk (256 MiB): ~1,300 tokens at a 50k vocab


@dataclass(frozen=True)
class DocumentBatch:
    """Right-padded documents on the device; causal attention makes padding invisible."""

    doc_index: torch.Tensor  # (doc,)
    input_ids: torch.Tensor  # (doc, token)
    attention_mask: torch.Tensor  # (doc, token)
    padded: bool

    @property
    def target_mask(self) -> torch.Tensor:
        """(doc, token - 1): positions whose next token is real."""
        return self.attention_mask[:, 1:].bool()


def make_batches(
    documents: DocumentSet, *, pad_id: int, device: torch.device, batch_size: int | None = None
) -> list[DocumentBatch]:
    """Split the documents into padded batches of ``batch_size`` (default: all in one)."""
    size = batch_size or len(documents)
    batches = []
    for start in range(0, len(documents), size):
        rows = documents.input_ids[start : start + size]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, tokens in enumerate(rows):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        index = torch.arange(start, start + len(rows))
        padded = any(len(r) < width for r in rows)
        batches.append(DocumentBatch(index.to(device), ids.to(device), mask.to(device), padded))
    return batches


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation of all documents gives, on the model's device.

    ``loss`` (doc,) is each document's mean next-token loss; ``activation``
    (doc, layer, hidden) its mean hidden states at the asked layers; ``token_loss``
    (doc, token) the loss of each token given the ones before it, NaN at token 0 and at
    padding, so that its mean over the finite entries of a row is ``loss``.
    """

    loss: torch.Tensor
    activation: torch.Tensor | None = None
    token_loss: torch.Tensor | None = None


@torch.inference_mode()
def evaluate_documents(
    model: PreTrainedModel,
    batches: Sequence[DocumentBatch],
    *,
    layers: Sequence[int] = (),
    chunk_tokens: int | None = None,
    autocast: str = "none",
    token_losses: bool = False,
) -> Evaluation:
    """Mean next-token loss of each document, and optionally its hidden states and token losses.

    ``loss`` is float32. ``activation`` — the mean over real tokens of
    ``hidden_states[layer]`` (index -1 or L = after the final norm) — is there when ``layers``
    is not empty, ``token_loss`` when ``token_losses`` is set. The model is put back in the
    training mode it was in.
    """
    was_training = model.training
    model.eval()
    unembed = model.get_output_embeddings()
    vocab = unembed.weight.shape[0]
    chunk = chunk_tokens or max(64, LOGIT_BUDGET // vocab)
    num_docs = sum(len(b.doc_index) for b in batches)
    device = batches[0].input_ids.device
    loss_sum = torch.zeros(num_docs, dtype=torch.float32, device=device)
    counts = torch.zeros(num_docs, dtype=torch.float32, device=device)
    activations = []
    width = max(b.input_ids.shape[1] for b in batches)
    per_token = torch.full((num_docs, width), torch.nan, device=device) if token_losses else None
    need_hidden = any(layer not in (-1, model.config.num_hidden_layers) for layer in layers)
    try:
        for batch in batches:
            with autocast_context(device, autocast):
                # Without padding, no mask lets attention take its fast causal path.
                output = model.base_model(
                    input_ids=batch.input_ids,
                    attention_mask=batch.attention_mask if batch.padded else None,
                    output_hidden_states=need_hidden,
                )
            hidden = output.last_hidden_state  # (doc, token, hidden)
            targets_mask = batch.target_mask
            predicting = hidden[:, :-1][targets_mask]  # (target, hidden)
            targets = batch.input_ids[:, 1:][targets_mask]
            owner = batch.doc_index[:, None].expand_as(targets_mask)[targets_mask]
            pieces = []
            for start in range(0, len(targets), chunk):
                piece = slice(start, start + chunk)
                with autocast_context(device, autocast):
                    logits = unembed(predicting[piece])
                token_loss = F.cross_entropy(logits.float(), targets[piece], reduction="none")
                loss_sum.index_add_(0, owner[piece], token_loss)
                pieces.append(token_loss)
            if per_token is not None:
                rows, positions = targets_mask.nonzero(as_tuple=True)  # in the order of targets
                per_token[batch.doc_index[rows], positions + 1] = torch.cat(pieces)
            counts.index_add_(0, batch.doc_index, targets_mask.sum(1).float())
            if layers:
                states = output.hidden_states if need_hidden else None
                mask = batch.attention_mask[..., None].float()  # (doc, token, 1)
                per_layer = []
                for layer in layers:
                    final = layer in (-1, model.config.num_hidden_layers)
                    state = hidden if final else states[layer]
                    per_layer.append((state.float() * mask).sum(1) / mask.sum(1))
                activations.append(torch.stack(per_layer, dim=1))  # (doc, layer, hidden)
    finally:
        model.train(was_training)
    activation = torch.cat(activations) if layers else None
    return Evaluation(loss_sum / counts, activation, per_token)

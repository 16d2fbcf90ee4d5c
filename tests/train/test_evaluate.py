"""Batched, chunked evaluation equals the plain per-document loss and leaves the model alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from reawaken.config import RunConfig
from reawaken.data import load_documents
from reawaken.models import load_model
from reawaken.train.evaluate import evaluate_documents, make_batches


@pytest.fixture(scope="module")
def model_and_docs(make_config: Callable[..., RunConfig]):  # type: ignore[no-untyped-def]
    config = make_config("data.num_docs=5", "data.context_length=1000")
    loaded = load_model(config.model, seed=0)
    documents = load_documents(config.data, loaded.tokenize, seed=0)
    return loaded, documents


def per_document_loss(model: torch.nn.Module, ids: tuple[int, ...]) -> float:
    with torch.no_grad():
        tensor = torch.tensor([ids])
        return float(model(input_ids=tensor, labels=tensor).loss)


@pytest.mark.parametrize(("batch_size", "chunk_tokens"), [(None, None), (2, 7), (1, 1)])
def test_batched_evaluation_equals_one_document_at_a_time(
    model_and_docs, batch_size: int | None, chunk_tokens: int | None
) -> None:
    loaded, documents = model_and_docs
    assert len(set(documents.n_tokens.tolist())) > 1  # padding is really exercised
    batches = make_batches(
        documents, pad_id=loaded.pad_id, device=loaded.device, batch_size=batch_size
    )
    losses = evaluate_documents(loaded.model, batches, chunk_tokens=chunk_tokens).loss
    expected = [per_document_loss(loaded.model, ids) for ids in documents.input_ids]
    torch.testing.assert_close(losses, torch.tensor(expected), rtol=1e-5, atol=1e-5)


def test_activations_are_mean_hidden_states_over_real_tokens(model_and_docs) -> None:
    loaded, documents = model_and_docs
    batches = make_batches(documents, pad_id=loaded.pad_id, device=loaded.device)
    activation = evaluate_documents(loaded.model, batches, layers=(1, 2)).activation
    assert activation is not None and activation.shape == (5, 2, 32)
    ids = torch.tensor([documents.input_ids[3]])
    with torch.no_grad():
        states = loaded.model.base_model(input_ids=ids, output_hidden_states=True).hidden_states
    torch.testing.assert_close(activation[3, 0], states[1][0].mean(0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(activation[3, 1], states[2][0].mean(0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("batch_size", "chunk_tokens"), [(None, None), (2, 7)])
def test_token_losses_are_each_tokens_cross_entropy_given_the_ones_before(
    model_and_docs, batch_size: int | None, chunk_tokens: int | None
) -> None:
    loaded, documents = model_and_docs
    batches = make_batches(
        documents, pad_id=loaded.pad_id, device=loaded.device, batch_size=batch_size
    )
    result = evaluate_documents(loaded.model, batches, chunk_tokens=chunk_tokens, token_losses=True)
    token_loss = result.token_loss
    assert token_loss is not None and token_loss.shape == (5, max(documents.n_tokens))
    for doc, ids in enumerate(documents.input_ids):
        tensor = torch.tensor([ids])
        with torch.no_grad():
            logits = loaded.model(input_ids=tensor).logits[0, :-1]
        expected = torch.nn.functional.cross_entropy(logits, tensor[0, 1:], reduction="none")
        row = token_loss[doc]
        assert torch.isnan(row[0]) and torch.isnan(row[len(ids) :]).all()  # nothing predicts them
        torch.testing.assert_close(row[1 : len(ids)], expected, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(row[1 : len(ids)].mean(), result.loss[doc])


def test_evaluation_leaves_weights_gradients_and_mode_untouched(model_and_docs) -> None:
    loaded, documents = model_and_docs
    model = loaded.model
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    batches = make_batches(documents, pad_id=loaded.pad_id, device=loaded.device)
    evaluate_documents(model, batches, layers=(-1,))
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize(
    ("overrides", "docs_per_batch"),
    [
        (["data.context_length=256"], [5, 3]),  # 1,280 tokens' worth of 256-token documents
        (["data.context_length=64"], [8]),  # all, when fewer than 1,280 tokens
        (["data.context_length=256", "evaluation.batch_size=3"], [3, 3, 2]),
    ],
)
def test_a_cpu_run_evaluates_in_batches_of_about_1280_tokens(
    make_config: Callable[..., RunConfig], overrides: list[str], docs_per_batch: list[int]
) -> None:
    from reawaken.train.workload import LanguageWorkload

    config = make_config("data.num_docs=8", *overrides)
    workload = LanguageWorkload.build(config)
    assert max(workload.n_tokens) == int(overrides[0].split("=")[1])
    assert [len(batch.doc_index) for batch in workload.batches] == docs_per_batch
    losses = workload.evaluate(()).loss
    ids = workload.evaluated.input_ids
    expected = [per_document_loss(workload.model, doc) for doc in ids]
    torch.testing.assert_close(losses, torch.tensor(expected), rtol=1e-5, atol=1e-5)

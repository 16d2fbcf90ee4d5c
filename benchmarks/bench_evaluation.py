"""Steps per second with batched evaluation vs a per-document evaluation loop.

Same model, same documents, every-step evaluation of all T documents. Prints seconds per
evaluation (the runner's default batches and chunks), steps/s and the ratio. ``--grid`` also
times documents per forward x tokens per unembedding chunk, alternating, which is how the
CPU defaults (``CPU_BATCH_TOKENS``, ``LOGIT_BUDGET``) were chosen. Everything runs inside the
runner's allocator setting (``retained_heap``). Run:

    python benchmarks/bench_evaluation.py                  # the built-in tiny model
    python benchmarks/bench_evaluation.py --shape pythia-70m --docs 25 --context 256 --grid
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial

import torch
from bench_runner import SHAPES as PYTHIA
from bench_runner import VOCAB

from reawaken.config import DataConfig, ModelConfig, OptimizerConfig
from reawaken.data import load_documents
from reawaken.models import load_model, save_tiny_model
from reawaken.train.allocator import retained_heap
from reawaken.train.device import cpu_evaluation_batch_size
from reawaken.train.evaluate import evaluate_documents, make_batches
from reawaken.train.steps import build_optimizer, train_step

# Pythia's shapes with its 50k vocabulary (config-built models; no download)
SHAPES = {"tiny": {}} | {name: {**shape, "vocab_size": VOCAB} for name, shape in PYTHIA.items()}


def per_document(model: torch.nn.Module, examples: list[torch.Tensor]) -> torch.Tensor:
    """The straightforward loop of the authors' code: one forward per document."""
    model.eval()
    with torch.no_grad():
        losses = [model(input_ids=x, labels=x).loss for x in examples]
    model.train()
    return torch.stack(losses)


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", choices=SHAPES, default="tiny")
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--grid", action="store_true", help="time batch x chunk sizes too")
    args = parser.parse_args()
    with retained_heap():
        compare(args)


def compare(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    folder = save_tiny_model(tempfile.mkdtemp(), **SHAPES[args.shape])
    # resize_to_tokenizer off: keep the shape's 50k-row unembedding, which the timing is about
    config = ModelConfig(name=str(folder), pretrained=False, resize_to_tokenizer=False)
    loaded = load_model(config, seed=0)
    docs = load_documents(
        DataConfig(num_docs=args.docs, context_length=args.context), loaded.tokenize, seed=0
    )
    examples = [torch.tensor([ids]) for ids in docs.input_ids]
    batch_size = cpu_evaluation_batch_size(num_docs=len(docs), tokens=max(docs.n_tokens))
    batches = make_batches(docs, pad_id=loaded.pad_id, device=loaded.device, batch_size=batch_size)
    model = loaded.model
    optimizer = build_optimizer(model, OptimizerConfig(name="sgd", lr=1e-4))

    batched = timed(lambda: evaluate_documents(model, batches), args.repeat)
    looped = timed(lambda: per_document(model, examples), args.repeat)
    first = examples[0]
    step = timed(
        lambda: train_step(model, optimizer, lambda: model(input_ids=first, labels=first).loss),
        args.repeat,
    )
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"model {args.shape} ({parameters / 1e6:.1f}M parameters), T={args.docs}, "
        f"C={args.context}, threads={torch.get_num_threads()}"
    )
    print(
        f"evaluation of all documents: batched {batched:.3f} s, per-document loop "
        f"{looped:.3f} s, ratio {looped / batched:.2f}x"
    )
    print(f"one training step: {step:.3f} s")
    if args.grid:
        grid(model, docs, loaded.pad_id, examples, args.repeat)
    print(
        f"steps/s with every-step evaluation: batched {1 / (step + batched):.2f}, "
        f"per-document {1 / (step + looped):.2f}, ratio "
        f"{(step + looped) / (step + batched):.2f}x"
    )


def grid(model, docs, pad_id: int, examples: list[torch.Tensor], repeat: int) -> None:  # type: ignore[no-untyped-def]
    """Seconds per evaluation for documents per forward x tokens per chunk (min of alternating
    repetitions), against the per-document loop."""
    ways = {"per-document loop": lambda: per_document(model, examples)}
    for size in sorted({1, 5, len(docs)}):
        batches = make_batches(docs, pad_id=pad_id, device=model.device, batch_size=size)
        for chunk in (83, 640, 1280, 2560):
            ways[f"{size} docs, {chunk}-token chunks"] = partial(
                evaluate_documents, model, batches, chunk_tokens=chunk
            )
    for way in ways.values():
        way()
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeat):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            times[name].append(time.perf_counter() - start)
    loop = min(times["per-document loop"])
    for name, seconds in times.items():
        print(f"{name:<32}{min(seconds):>8.3f} s{loop / min(seconds):>7.2f}x")


if __name__ == "__main__":
    main()

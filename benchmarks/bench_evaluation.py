"""Steps per second with batched evaluation vs a per-document evaluation loop.

Same model, same documents, every-step evaluation of all T documents (the runner's default
cadence). Prints seconds per evaluation, steps/s and the ratio. Run:

    python benchmarks/bench_evaluation.py                  # the built-in tiny model
    python benchmarks/bench_evaluation.py --shape pythia-14m --docs 25 --context 256
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from reawaken.config import DataConfig, ModelConfig, OptimizerConfig
from reawaken.data import load_documents
from reawaken.models import load_model, save_tiny_model
from reawaken.train.evaluate import evaluate_documents, make_batches
from reawaken.train.steps import build_optimizer, train_step

SHAPES = {
    "tiny": {},
    # Pythia's shapes with its 50k vocabulary (a config-built model; no download).
    "pythia-14m": {
        "hidden_size": 128,
        "num_hidden_layers": 6,
        "num_attention_heads": 4,
        "intermediate_size": 512,
        "vocab_size": 50304,
    },
    "pythia-70m": {
        "hidden_size": 512,
        "num_hidden_layers": 6,
        "num_attention_heads": 8,
        "intermediate_size": 2048,
        "vocab_size": 50304,
    },
}


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
    args = parser.parse_args()
    torch.manual_seed(0)
    folder = save_tiny_model(tempfile.mkdtemp(), **SHAPES[args.shape])
    # resize_to_tokenizer off: keep the shape's 50k-row unembedding, which the timing is about
    config = ModelConfig(name=str(folder), pretrained=False, resize_to_tokenizer=False)
    loaded = load_model(config, seed=0)
    docs = load_documents(
        DataConfig(num_docs=args.docs, context_length=args.context), loaded.tokenize, seed=0
    )
    examples = [torch.tensor([ids]) for ids in docs.input_ids]
    batches = make_batches(docs, pad_id=loaded.pad_id, device=loaded.device)
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
    print(
        f"steps/s with every-step evaluation: batched {1 / (step + batched):.2f}, "
        f"per-document {1 / (step + looped):.2f}, ratio "
        f"{(step + looped) / (step + batched):.2f}x"
    )


if __name__ == "__main__":
    main()

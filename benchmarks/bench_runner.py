"""Runner throughput against the authors' loop, and model FLOPs utilisation (MFU).

In one process, same model, same documents (T=25, M=10, C=256 by default), each timed over the
first ``--blocks`` document blocks, ``--repeat`` times, alternating between the two so that a
change of machine load hits both alike (the figures are medians; the speedup is the median of
each repetition's ratio):

1. the authors' loop — M steps with ``model(labels=...)``, then every document evaluated
   separately with ``.item()`` after the block;
2. the runner at the same cadence (``evaluation.every=doc``), with store writes, probes
   (activations, weight sketch) and checkpoints as configured by default
   (``checkpoint.every: auto``).

``--variants`` also times the runner with a checkpoint every document, without checkpoints,
without probes, and evaluating every step, and the authors' loop inside the runner's
allocator setting (``reawaken.train.allocator``: freed memory kept for the next step), which
shows how much of the ratio that setting alone gives. It prints steps/s, tokens/s, the ratio to the
authors' loop and the achieved FLOP/s as a fraction of a matmul peak measured here; with
``--json`` the last line is one JSON object (``shape``, ``steps_per_s``,
``authors_steps_per_s``, ``speedup_vs_authors``, ``mfu``, ...). FLOPs leave out the
input-embedding lookup. Run:

    python benchmarks/bench_runner.py --shape pythia-14m --json
    python benchmarks/bench_runner.py --shape pythia-70m --blocks 2 --repeat 2 --json
    python benchmarks/bench_runner.py --shape pythia-410m --device cuda --autocast bf16 --tf32
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from reawaken.config import load_config
from reawaken.data import load_documents
from reawaken.models import load_model, save_tiny_model
from reawaken.train import runner
from reawaken.train.allocator import retained_heap
from reawaken.train.device import tf32_matmuls
from reawaken.train.workload import LanguageWorkload

SHAPES = {
    "pythia-14m": {
        "hidden_size": 128,
        "num_hidden_layers": 6,
        "num_attention_heads": 4,
        "intermediate_size": 512,
    },
    "pythia-70m": {
        "hidden_size": 512,
        "num_hidden_layers": 6,
        "num_attention_heads": 8,
        "intermediate_size": 2048,
    },
    "pythia-160m": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
    "pythia-410m": {
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 4096,
    },
    "pythia-1b": {
        "hidden_size": 2048,
        "num_hidden_layers": 16,
        "num_attention_heads": 8,
        "intermediate_size": 8192,
    },
}
VOCAB = 50304  # Pythia's embedding rows


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int = 1024) -> float:
    """Achieved FLOP/s of a square matmul: the practical peak of this machine (the best of five
    trials, so that a moment of load on a shared machine does not lower it)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    repeat = 10 if device.type == "cpu" else 200
    seconds = min(seconds_per_call(lambda: a @ b, device, repeat, warm_up=3) for _ in range(5))
    return 2 * size**3 / seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def seconds_per_call(
    work: Callable[[], object], device: torch.device, calls: int, *, warm_up: int = 0
) -> float:
    """Seconds per call of ``work`` over ``calls`` calls, after ``warm_up`` untimed ones (the
    device is synchronised around the timed calls)."""
    for _ in range(warm_up):
        work()
    _sync(device)
    start = time.perf_counter()
    for _ in range(calls):
        work()
    _sync(device)
    return (time.perf_counter() - start) / calls


def forward_flops(shape: dict[str, int], tokens: int, context: int) -> float:
    """Forward FLOPs for ``tokens`` tokens: 2 x non-embedding weights, attention, unembedding."""
    d, layers, ffn = shape["hidden_size"], shape["num_hidden_layers"], shape["intermediate_size"]
    weights = layers * (4 * d * d + 2 * d * ffn)
    attention = layers * 2 * d * context  # scores and weighted sum, causal average
    return tokens * (2 * weights + attention + 2 * d * VOCAB)


def baseline(
    model: torch.nn.Module, examples: list[torch.Tensor], steps: int, blocks: int, lr: float
) -> float:
    """The authors' loop (train_interleave.py): M steps, then per-document evaluation."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    start = time.perf_counter()
    for doc in itertools.islice(itertools.cycle(range(len(examples))), blocks):
        model.train()
        for _ in range(steps):
            x = examples[doc]
            loss = model(input_ids=x, labels=x).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            [model(input_ids=x, labels=x).loss.item() for x in examples]
    return time.perf_counter() - start


def timed_runner(config_overrides: list[str], folder: Path, blocks: int) -> float:
    """Wall time of the real runner (store, probes, checkpoints) over the first blocks."""
    config = load_config(overrides=config_overrides)
    real_blocks = runner.CyclicRun.blocks
    runner.CyclicRun.blocks = lambda self, first: itertools.islice(  # type: ignore[method-assign]
        real_blocks(self, first), blocks
    )
    try:
        start_holder: dict[str, float] = {}
        real_start = runner.CyclicRun.write_start

        def write_start(self: runner.CyclicRun) -> None:
            real_start(self)
            _sync(self.device)
            start_holder["t"] = time.perf_counter()  # exclude model loading and step 0

        runner.CyclicRun.write_start = write_start  # type: ignore[method-assign]
        runner.run_experiment(config, folder / "bench.zarr", overwrite=True, progress=False)
        return time.perf_counter() - start_holder["t"]
    finally:
        runner.CyclicRun.blocks = real_blocks  # type: ignore[method-assign]
        runner.CyclicRun.write_start = real_start  # type: ignore[method-assign]


def interleaved(ways: dict[str, Callable[[], float]], repeat: int) -> dict[str, list[float]]:
    """Time every way ``repeat`` times, alternating (a, b, a, b, ...): on a shared machine a
    change of load hits all ways alike, so the ratio of medians is robust to it."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeat):
        for name, way in ways.items():
            times[name].append(way())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shape", choices=SHAPES, default="pythia-14m")
    parser.add_argument("--docs", type=int, default=25)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--blocks", type=int, default=3, help="document blocks timed")
    parser.add_argument("--repeat", type=int, default=3, help="alternating repetitions")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--autocast", default="none", choices=["none", "bf16"])
    parser.add_argument("--tf32", action="store_true", help="TF32 matmuls (CUDA)")
    parser.add_argument("--compile", action="store_true", help="model.compile=true")
    parser.add_argument(
        "--variants", action="store_true", help="also time without checkpoints/probes, every step"
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    work = Path(tempfile.mkdtemp())
    folder = save_tiny_model(work / "model", vocab_size=VOCAB, **shape)
    overrides = [
        f"model.name={folder}",
        "model.pretrained=false",
        "model.resize_to_tokenizer=false",  # keep Pythia's 50k-row unembedding (compute)
        f"model.device={args.device}",
        f"model.autocast={args.autocast}",
        f"model.tf32={str(args.tf32).lower()}",
        f"model.compile={str(args.compile).lower()}",
        f"data.num_docs={args.docs}",
        f"data.context_length={args.context}",
        f"schedule.steps_per_doc={args.steps}",
        "schedule.num_epochs=1",
        "optimizer.name=sgd",
        "optimizer.lr=1e-3",
        "optimizer.reset_per_doc=false",
    ]
    config = load_config(overrides=overrides)
    loaded = load_model(config.model, seed=0)
    device = loaded.device
    documents = load_documents(config.data, loaded.tokenize, seed=0)
    examples = [torch.tensor([ids], device=device) for ids in documents.input_ids]
    tokens = int(documents.n_tokens.sum())
    dtype = torch.bfloat16 if args.autocast == "bf16" else torch.float32
    with tf32_matmuls(args.tf32):
        peak = matmul_peak(device, dtype)
    train_flops = 3 * forward_flops(shape, tokens // len(examples), args.context)
    eval_flops = forward_flops(shape, tokens, args.context)

    workload = LanguageWorkload(config, loaded, documents)  # the runner's batches and chunks
    with retained_heap(device.type == "cpu"), tf32_matmuls(args.tf32):
        eval_seconds = seconds_per_call(lambda: workload.evaluate(()), device, 3, warm_up=1)

    steps = args.blocks * args.steps
    same_cadence = [*overrides, "evaluation.every=doc"]
    times = interleaved(
        {
            "authors": lambda: baseline(loaded.model, examples, args.steps, args.blocks, 1e-3),
            "runner": lambda: timed_runner(same_cadence, work, args.blocks),
        },
        args.repeat,
    )
    base, same = statistics.median(times["authors"]), statistics.median(times["runner"])
    # Each repetition's own ratio cancels a change of load between repetitions.
    paired = [a / r for a, r in zip(times["authors"], times["runner"], strict=True)]
    speedup = statistics.median(paired)
    per_block_flops = args.steps * train_flops + eval_flops
    rows = [
        ("authors' loop (per-document eval)", base, per_block_flops * args.blocks),
        ("runner, eval every doc (probes, ckpt)", same, per_block_flops * args.blocks),
    ]
    if args.variants:
        variants = {
            "runner, ... checkpoint every doc": ["checkpoint.every=doc"],
            "runner, ... no checkpoints": ["checkpoint.every=never"],
            "runner, ... no probes, no ckpt": [
                "probes.snapshot_every=never",
                "probes.sketch_size=0",
                "checkpoint.every=never",
            ],
        }
        for name, extra in variants.items():
            seconds = timed_runner([*same_cadence, *extra], work, args.blocks)
            rows.append((name, seconds, per_block_flops * args.blocks))
        with retained_heap():  # how much of the ratio the runner's allocator setting gives
            kept = baseline(loaded.model, examples, args.steps, args.blocks, 1e-3)
        rows.append(("authors' loop, heap retained", kept, per_block_flops * args.blocks))
        every = timed_runner([*overrides, "evaluation.every=step"], work, args.blocks)
        rows.append(
            (
                "runner, eval every step",
                every,
                args.steps * (train_flops + eval_flops) * args.blocks,
            )
        )
    print(
        f"{args.shape}: T={args.docs}, M={args.steps}, C={args.context}, {tokens} tokens "
        f"evaluated, device {device}, threads {torch.get_num_threads()}, load average "
        f"{os.getloadavg()[0]:.1f}, {args.repeat} alternating repetitions (medians)"
    )
    print(f"matmul peak: {peak / 1e9:.1f} GFLOP/s ({dtype}, tf32 {args.tf32})")
    print(
        f"evaluation of all documents: {eval_seconds:.3f} s, "
        f"{eval_flops / eval_seconds / 1e9:.1f} GFLOP/s = {eval_flops / eval_seconds / peak:.0%}"
        " of peak"
    )
    print(f"{'way':<40}{'steps/s':>9}{'tokens/s':>10}{'vs base':>9}{'MFU':>7}")
    for name, seconds, flops in rows:
        trained = steps * tokens / len(examples)
        print(
            f"{name:<40}{steps / seconds:>9.2f}{trained / seconds:>10.0f}"
            f"{base / seconds:>8.2f}x{flops / seconds / peak:>7.0%}"
        )
    print("all times (s): " + json.dumps({k: [round(t, 3) for t in v] for k, v in times.items()}))
    print(
        f"speedup vs the authors' loop, median of each repetition's ratio: {speedup:.2f}x "
        f"(each: {', '.join(f'{r:.2f}' for r in paired)})"
    )
    if args.json:
        figures = {
            "shape": args.shape,
            "device": str(device),
            "autocast": args.autocast,
            "tf32": args.tf32,
            "compile": args.compile,
            "steps_per_s": steps / same,
            "authors_steps_per_s": steps / base,
            "speedup_vs_authors": speedup,
            "mfu": per_block_flops * args.blocks / same / peak,
            "authors_mfu": per_block_flops * args.blocks / base / peak,
            "eval_mfu": eval_flops / eval_seconds / peak,
            "repeat": args.repeat,
            "blocks": args.blocks,
            "load_average": os.getloadavg()[0],
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

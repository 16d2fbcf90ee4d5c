"""Does ``model.compile`` pay on this machine? Steady-state train step and evaluation, eager
against ``torch.compile``, in one process.

Two copies of the same config-built model (Pythia shapes of ``bench_runner.py``), one compiled
the way the runner compiles it (:func:`reawaken.train.device.compile_model`). After warm-up
(which includes the compilation, reported separately), the train step (batch 1, SGD) and the
evaluation of all documents are timed ``--repeat`` times, alternating eager and compiled, and
the medians compared. The runner keeps ``model.compile`` off by default unless both ratios
here are above 1 at the shapes users run. Run:

    python benchmarks/bench_compile.py --shape pythia-14m
    python benchmarks/bench_compile.py --shape pythia-160m --device cuda
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from bench_runner import SHAPES, VOCAB, seconds_per_call

from reawaken.config import load_config
from reawaken.data import load_documents
from reawaken.models import load_model, save_tiny_model
from reawaken.train.device import compile_model
from reawaken.train.evaluate import evaluate_documents, make_batches
from reawaken.train.steps import train_step


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shape", choices=SHAPES, default="pythia-14m")
    parser.add_argument("--docs", type=int, default=25)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10, help="train steps per timing")
    parser.add_argument("--repeat", type=int, default=5, help="alternating repetitions")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp())
    folder = save_tiny_model(work / "model", vocab_size=VOCAB, **SHAPES[args.shape])
    config = load_config(
        overrides=[
            f"model.name={folder}",
            "model.pretrained=false",
            "model.resize_to_tokenizer=false",
            f"model.device={args.device}",
            f"data.num_docs={args.docs}",
            f"data.context_length={args.context}",
        ]
    )
    loaded = load_model(config.model, seed=0)
    device = loaded.device
    documents = load_documents(config.data, loaded.tokenize, seed=0)
    batches = make_batches(documents, pad_id=loaded.pad_id, device=device)
    ids = torch.tensor([documents.input_ids[0]], device=device)

    models = {"eager": loaded.model, "compiled": copy.deepcopy(loaded.model)}
    compile_model(models["compiled"])
    optimizers = {k: torch.optim.SGD(m.parameters(), lr=1e-4) for k, m in models.items()}

    def step(kind: str) -> Callable[[], object]:
        model = models[kind]
        return lambda: train_step(
            model, optimizers[kind], lambda: model(input_ids=ids, labels=ids).loss
        )

    def evaluation(kind: str) -> Callable[[], object]:
        return lambda: evaluate_documents(models[kind], batches)

    warm_up = {}
    for kind in models:  # the first calls of the compiled model compile it
        warm_up[kind] = (
            seconds_per_call(step(kind), device, 2) * 2
            + seconds_per_call(evaluation(kind), device, 2) * 2
        )
    times: dict[str, list[float]] = {
        f"{what} {kind}": [] for what in ("step", "eval") for kind in models
    }
    for _ in range(args.repeat):
        for kind in models:
            times[f"step {kind}"].append(seconds_per_call(step(kind), device, args.steps))
            times[f"eval {kind}"].append(seconds_per_call(evaluation(kind), device, 1))
    median = {name: statistics.median(values) for name, values in times.items()}
    step_speedup = median["step eager"] / median["step compiled"]
    eval_speedup = median["eval eager"] / median["eval compiled"]
    print(
        f"{args.shape}: T={args.docs}, C={args.context}, device {device}, threads "
        f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, "
        f"{args.repeat} alternating repetitions (medians)"
    )
    print(f"warm-up (4 steps + 2 evaluations): eager {warm_up['eager']:.1f} s, "
          f"compiled {warm_up['compiled']:.1f} s (includes compiling)")  # fmt: skip
    print(f"{'':<10}{'eager':>10}{'compiled':>10}{'speed-up':>10}")
    for what, speedup in (("step", step_speedup), ("eval", eval_speedup)):
        eager, compiled = median[f"{what} eager"], median[f"{what} compiled"]
        print(f"{what:<10}{eager:>9.3f}s{compiled:>9.3f}s{speedup:>9.2f}x")
    figures = {
        "shape": args.shape,
        "device": str(device),
        "step_speedup": step_speedup,
        "eval_speedup": eval_speedup,
        "compile_seconds": warm_up["compiled"] - warm_up["eager"],
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

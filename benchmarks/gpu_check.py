"""One device check, prepared in advance: is the runner at the hardware limit on a GPU?

One command, no network (config-built Pythia-shaped models, the bundled corpus), sized for 8
minutes on one H200:

    python benchmarks/gpu_check.py                 # on CUDA, the real shapes
    python benchmarks/gpu_check.py --device cpu    # the same checks at tiny shapes (CI)

It prints

(a) the first 20 training losses of a 160m-shaped run on the device and on the CPU (they
    must agree within 1e-3; the exit status is 1 otherwise);
(b) the MFU of one train step (batch 1) and of one evaluation of all documents at the 410m and
    1b shapes, in fp32, TF32 and bf16 (goals at 1b, bf16: evaluation >= 50%, train step >= 25%);
(c) the wall time of a paper-default 1b-shaped run (T=25, C=256, M=10, E=5, evaluation per
    document, probes on; goal <= 3 min) and of the same evaluating every step (goal <= 10 min);
(d) the throughput of four 160m-shaped runs packed on the device at once against one alone;

and, as its last line, every figure as one JSON object. MFU is achieved FLOP/s over the
matmul peak measured here in the same precision.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_runner import SHAPES, VOCAB, forward_flops, matmul_peak, seconds_per_call

from reawaken import open_run
from reawaken.config import load_config
from reawaken.data import load_documents
from reawaken.models import load_model, save_tiny_model
from reawaken.train import run_experiment
from reawaken.train.device import autocast as autocast_context
from reawaken.train.device import tf32_matmuls
from reawaken.train.evaluate import evaluate_documents, make_batches
from reawaken.train.steps import build_optimizer, train_step

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
PRECISIONS = {"fp32": ("none", False), "tf32": ("none", True), "bf16": ("bf16", False)}
GOALS = {
    "eval_mfu_bf16_1b": 0.50,
    "train_mfu_bf16_1b": 0.25,
    "run_s": 180,
    "run_every_step_s": 600,
}


class Check:
    """Shapes and sizes: the real ones on CUDA, tiny ones for ``--device cpu``."""

    def __init__(self, device: str, work: Path) -> None:
        self.device = device
        self.tiny = device == "cpu"
        self.work = work
        if self.tiny:
            self.sizes = {"T": 4, "C": 32, "M": 2, "E": 2}
            self.vocab = 0  # the bundled tokenizer's own size
        else:
            self.sizes = {"T": 25, "C": 256, "M": 10, "E": 5}
            self.vocab = VOCAB
        self.folders: dict[str, Path] = {}

    def shape(self, name: str) -> dict[str, int]:
        return TINY if self.tiny else SHAPES[name]

    def model_folder(self, name: str) -> Path:
        if name not in self.folders:
            extra = {"vocab_size": self.vocab} if self.vocab else {}
            self.folders[name] = save_tiny_model(self.work / name, **extra, **self.shape(name))
        return self.folders[name]

    def overrides(self, name: str, device: str, **changes: Any) -> list[str]:
        sizes = self.sizes
        settings = {
            "model.name": self.model_folder(name),
            "model.pretrained": False,
            "model.device": device,
            "data.source": "builtin",
            "data.num_docs": sizes["T"],
            "data.context_length": sizes["C"],
            "schedule.steps_per_doc": sizes["M"],
            "schedule.num_epochs": sizes["E"],
            **changes,
        }
        return [f"{key}={value}" for key, value in settings.items()]

    def config(self, name: str, device: str, **changes: Any) -> Any:
        overrides = self.overrides(name, device, **changes)
        return load_config(preset="paper/pythia-1b", overrides=overrides)


def losses_agree(check: Check) -> dict[str, Any]:
    """(a) The first 20 training losses on the device and on the CPU."""
    losses = {}
    for device in dict.fromkeys([check.device, "cpu"]):
        # Two documents, one epoch: the first 20 steps without the rest of a long CPU run.
        changes = {"data.num_docs": 2, "schedule.num_epochs": 1, "probes.snapshot_every": "never"}
        config = check.config("pythia-160m", device, **changes)
        steps = min(20, config.total_steps)
        path = check.work / f"agree-{device}.zarr"
        run_experiment(config, path, overwrite=True, progress=False)
        losses[device] = open_run(path)["train_loss"].values[1 : steps + 1]
    device_losses, cpu_losses = losses[check.device], losses["cpu"]
    difference = float(np.max(np.abs(device_losses - cpu_losses)))
    print(f"(a) first {len(cpu_losses)} training losses, 160m shape, {check.device} vs cpu")
    for step, (a, b) in enumerate(zip(device_losses, cpu_losses, strict=True), start=1):
        print(f"    step {step:>2}: {a:.6f}  {b:.6f}  {a - b:+.2e}")
    print(f"    largest difference {difference:.2e} (must be <= 1e-3)")
    return {"max_loss_difference": difference, "losses_agree": difference <= 1e-3}


def mfu(check: Check) -> dict[str, Any]:
    """(b) MFU of a batch-1 train step and of an evaluation, per shape and precision."""
    figures: dict[str, Any] = {}
    print("(b) MFU, train step (batch 1) and evaluation of all T documents")
    for name in ("pythia-410m", "pythia-1b"):
        figures.update(_mfu_of(check, name))
        if check.device == "cuda":
            torch.cuda.empty_cache()
    return figures


def _mfu_of(check: Check, name: str) -> dict[str, Any]:
    config = check.config(name, check.device)
    loaded = load_model(config.model, seed=0)
    model, device = loaded.model, loaded.device
    documents = load_documents(config.data, loaded.tokenize, seed=0)
    example = torch.tensor([documents.input_ids[0]], device=device)
    batches = make_batches(documents, pad_id=loaded.pad_id, device=device)
    shape, context = check.shape(name), check.sizes["C"]
    train_flops = 3 * forward_flops(shape, example.shape[1], context)
    eval_flops = forward_flops(shape, int(documents.n_tokens.sum()), context)
    optimizer = build_optimizer(model, config.optimizer)
    figures = {}
    for precision, (autocast, tf32) in PRECISIONS.items():
        with tf32_matmuls(tf32):
            dtype = torch.bfloat16 if autocast == "bf16" else torch.float32
            peak = matmul_peak(device, dtype, size=256 if check.tiny else 4096)

            def compute_loss(a: str = autocast) -> torch.Tensor:
                with autocast_context(device, a):
                    return model(input_ids=example, labels=example).loss

            train_s = seconds_per_call(
                lambda c=compute_loss: train_step(model, optimizer, c), device, 5, warm_up=1
            )
            eval_s = seconds_per_call(
                lambda a=autocast: evaluate_documents(model, batches, autocast=a),
                device,
                5,
                warm_up=1,
            )
        key = f"{precision}_{name.removeprefix('pythia-')}"
        figures[f"train_mfu_{key}"] = train_flops / train_s / peak
        figures[f"eval_mfu_{key}"] = eval_flops / eval_s / peak
        print(
            f"    {name:<12}{precision:<6}peak {peak / 1e12:7.2f} TFLOP/s   train step "
            f"{train_s * 1e3:8.2f} ms ({figures[f'train_mfu_{key}']:4.0%})   evaluation "
            f"{eval_s * 1e3:8.2f} ms ({figures[f'eval_mfu_{key}']:4.0%})"
        )
    return figures


def paper_runs(check: Check) -> dict[str, Any]:
    """(c) Wall time of a paper-default 1b-shaped run, per document and every step."""
    figures = {}
    sizes = ", ".join(f"{k}={v}" for k, v in check.sizes.items())
    print(f"(c) paper-default 1b-shaped run ({sizes}; probes on, bf16)")
    for every, key in (("doc", "run_s"), ("step", "run_every_step_s")):
        config = check.config(
            "pythia-1b", check.device, **{"evaluation.every": every, "model.autocast": "bf16"}
        )
        path = check.work / f"paper-{every}.zarr"
        started = time.perf_counter()
        run_experiment(config, path, overwrite=True, progress=False)
        figures[key] = time.perf_counter() - started
        print(f"    evaluation every {every:<4}: {figures[key]:8.1f} s (goal <= {GOALS[key]} s)")
    return figures


def packed_runs(check: Check) -> dict[str, Any]:
    """(d) Four 160m-shaped runs at once on the device against one alone (steps/s)."""
    overrides = check.overrides("pythia-160m", check.device, **{"schedule.num_epochs": 1})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def launch(count: int) -> float:
        started = time.perf_counter()
        out = check.work / f"packed{count}"
        command = [sys.executable, "-m", "reawaken", "run", "--preset", "paper/pythia-160m"]
        command += [f"--set={o}" for o in overrides] + ["--out", str(out), "--quiet"]
        processes = [
            subprocess.Popen(
                [*command, "--name", f"run{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for i in range(count)
        ]
        for process in processes:
            _, error = process.communicate()
            if process.returncode:
                raise SystemExit(f"a packed run failed: {error.decode()[-2000:]}")
        return time.perf_counter() - started

    steps = check.sizes["T"] * check.sizes["M"]
    alone = launch(1)
    four = launch(4)
    figures = {
        "one_run_steps_per_s": steps / alone,
        "four_packed_steps_per_s": 4 * steps / four,
        "packing_gain": (4 * steps / four) / (steps / alone),
    }
    print(
        f"(d) 160m-shaped runs (one epoch, process start included): one alone "
        f"{figures['one_run_steps_per_s']:.2f} steps/s, four packed "
        f"{figures['four_packed_steps_per_s']:.2f} steps/s in all "
        f"({figures['packing_gain']:.2f}x)"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument(
        "--only", nargs="*", choices=["a", "b", "c", "d"], help="run only these checks"
    )
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device is visible; run with --device cpu for the tiny-shape check")
        raise SystemExit(2)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu (tiny shapes)"
    print(f"device: {name}; torch {torch.__version__}")
    figures: dict[str, Any] = {"device": name}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        check = Check(args.device, Path(folder))
        checks = {"a": losses_agree, "b": mfu, "c": paper_runs, "d": packed_runs}
        for letter, function in checks.items():
            if not args.only or letter in args.only:
                figures.update(function(check))
    figures["goals"] = {
        key: figures[key] <= goal if key.startswith("run") else figures[key] >= goal
        for key, goal in GOALS.items()
        if key in figures and not check.tiny
    }
    figures["total_s"] = time.perf_counter() - started
    print(f"total {figures['total_s']:.0f} s")
    print(json.dumps(figures))
    if not figures.get("losses_agree", True):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

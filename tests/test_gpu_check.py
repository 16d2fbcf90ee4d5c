"""benchmarks/gpu_check.py runs on CPU at tiny shapes: the device check is ready to run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def _run(*only: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--only", *only],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_gpu_check_runs_on_cpu_at_tiny_shapes() -> None:
    figures = _run("a", "b", "c")
    assert figures["losses_agree"] and figures["max_loss_difference"] == 0.0
    for shape in ("410m", "1b"):
        for precision in ("fp32", "tf32", "bf16"):
            assert figures[f"train_mfu_{precision}_{shape}"] > 0
            assert figures[f"eval_mfu_{precision}_{shape}"] > 0
    assert figures["run_s"] > 0 and figures["run_every_step_s"] > 0


@pytest.mark.slow
def test_gpu_check_packs_runs_on_cpu() -> None:
    figures = _run("d")
    assert figures["one_run_steps_per_s"] > 0 and figures["four_packed_steps_per_s"] > 0

"""Device switches of a run: bf16 autocast, TF32 matmuls, compilation, evaluation batch size.

The first three are no-ops on CPU, so a CPU run's numbers do not depend on them (tests check
that the losses are the same with and without); on CUDA they are what makes a run fast. The
evaluation batch is sized for each device: from free memory on CUDA, for the cache on CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import nullcontext

import torch

__all__ = [
    "autocast",
    "compile_model",
    "cpu_evaluation_batch_size",
    "evaluation_batch_size",
    "tf32_matmuls",
]

# Tokens per evaluation forward on CPU. One batch's activations (~1,300 x 2,048 floats in
# Pythia-70m's MLP) stay near the cache; all 6,400 tokens at once were 5% slower there and
# one 256-token document at a time 15% slower (benchmarks/bench_evaluation.py --grid).
CPU_BATCH_TOKENS = 1280


def autocast(device: torch.device, mode: str) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CUDA for ``mode == "bf16"``; otherwise (and on CPU) nothing.

    Examples
    --------
    >>> type(autocast(torch.device("cpu"), "bf16")).__name__
    'nullcontext'
    """
    if mode == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@contextlib.contextmanager
def tf32_matmuls(enabled: bool) -> Iterator[None]:
    """TF32 for float32 matmuls and convolutions on CUDA while inside; restored after.

    Examples
    --------
    >>> with tf32_matmuls(True):
    ...     torch.backends.cuda.matmul.allow_tf32
    True
    >>> torch.backends.cuda.matmul.allow_tf32
    False
    """
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def compile_model(model: torch.nn.Module) -> None:
    """Compile the transformer body in place (``nn.Module.compile``), so the train step and the
    evaluation, which both call it, run compiled; parameter names and checkpoints are unchanged.
    """
    body = getattr(model, "base_model", model)
    # Batch-1 training and the evaluation batch have different shapes: mark them dynamic once
    # instead of recompiling per shape.
    body.compile(dynamic=True)


def evaluation_batch_size(
    *,
    num_docs: int,
    tokens: int,
    hidden: int,
    layers: int,
    free_bytes: int,
    reserve: float = 0.5,
) -> int:
    """Documents per evaluation forward that fit in ``reserve`` of ``free_bytes`` of memory.

    Per document (float32): every layer's hidden states (kept when activations are probed),
    one layer's intermediates (~16 hidden widths: q, k, v, MLP) and the attention
    probabilities (heads of width 64, scores and softmax), all over ``tokens``.

    Examples
    --------
    >>> evaluation_batch_size(num_docs=25, tokens=256, hidden=2048, layers=16,
    ...                       free_bytes=80 * 2**30)
    25
    >>> evaluation_batch_size(num_docs=25, tokens=2048, hidden=2560, layers=32,
    ...                       free_bytes=4 * 2**30)
    1
    """
    heads = max(1, hidden // 64)
    per_doc = 4 * tokens * (hidden * (layers + 17) + 2 * tokens * heads)
    return max(1, min(num_docs, int(free_bytes * reserve // per_doc)))


def cpu_evaluation_batch_size(*, num_docs: int, tokens: int) -> int:
    """Documents per evaluation forward on CPU: about ``CPU_BATCH_TOKENS`` tokens' worth.

    Examples
    --------
    >>> cpu_evaluation_batch_size(num_docs=25, tokens=256)
    5
    >>> cpu_evaluation_batch_size(num_docs=25, tokens=4096)
    1
    """
    return max(1, min(num_docs, CPU_BATCH_TOKENS // tokens))

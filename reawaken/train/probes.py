"""Snapshots of the model's state: weight sketches, chosen weight tensors, gradient sketches.

The sketch is a count sketch (a sparse random projection with signs): every parameter entry is
hashed, with a seed, to one of K buckets and added with a random sign. Inner products, hence
distances, cosines and the PCA of a weight trajectory, are preserved in expectation, at the
cost of one pass over the parameters — feasible for billion-parameter models, unlike a dense
projection matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch

from reawaken.errors import ConfigError

__all__ = ["UNEMBEDDING", "CountSketch", "copy_weights", "gradient_sketches", "weight_size"]

# Below this many parameters the bucket indices are cached instead of regenerated per snapshot.
# Cached as int32 buckets and int8 signs, 5 bytes per parameter (1 GB at the limit).
CACHE_LIMIT = 200_000_000


class CountSketch:
    """Seeded count sketch of a model's parameters into ``size`` buckets.

    Examples
    --------
    >>> layer = torch.nn.Linear(3, 2)
    >>> sketch = CountSketch(layer, size=4, seed=0)
    >>> sketch(layer.parameters()).shape
    torch.Size([4])
    """

    def __init__(self, model: torch.nn.Module, *, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.shapes = [p.numel() for p in model.parameters()]
        self.device = next(model.parameters()).device
        self._cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        if sum(self.shapes) <= CACHE_LIMIT:
            self._cache = [self._hash(i, n) for i, n in enumerate(self.shapes)]

    def _hash(self, index: int, numel: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.seed * 1_000_003 + index)
        code = torch.randint(
            0, 2 * self.size, (numel,), generator=generator, device=self.device, dtype=torch.int32
        )
        return code % self.size, (code // self.size * 2 - 1).to(torch.int8)

    def __call__(self, tensors: Iterator[torch.Tensor] | Sequence[torch.Tensor]) -> torch.Tensor:
        """Sketch of the given tensors, in the order of the model's parameters."""
        out = torch.zeros(self.size, dtype=torch.float32, device=self.device)
        for index, tensor in enumerate(tensors):
            bucket, sign = self._cache[index] if self._cache else self._hash(index, tensor.numel())
            out.index_add_(0, bucket, tensor.detach().reshape(-1).float() * sign)
        return out


#: ``probes.weights`` name of the unembedding (output embedding) matrix in every model family.
UNEMBEDDING = "unembedding"
# Other names that mean it whatever a transformers version or family calls it (Pythia's
# checkpoints say embed_out, transformers 5 and GPT-2 and Llama say lm_head).
OUTPUT_EMBEDDING_ALIASES = (UNEMBEDDING, "output_embeddings", "embed_out.weight", "lm_head.weight")


def _named(model: torch.nn.Module, names: Sequence[str]) -> list[torch.Tensor]:
    parameters = dict(model.named_parameters())
    if hasattr(model, "get_output_embeddings"):  # language models; not the toy
        for alias in OUTPUT_EMBEDDING_ALIASES:
            parameters.setdefault(alias, model.get_output_embeddings().weight)
    missing = [n for n in names if n not in parameters]
    if missing:
        some = ", ".join(list(parameters)[:6])
        raise ConfigError(
            f"config key 'probes.weights': no parameter named {', '.join(missing)} in this "
            f"model (names look like: {some}, ...)"
        )
    return [parameters[n] for n in names]


def weight_size(model: torch.nn.Module, names: Sequence[str]) -> int:
    """Length of the flattened copy of the named parameters (0 when none are chosen)."""
    return sum(p.numel() for p in _named(model, names))


def copy_weights(model: torch.nn.Module, names: Sequence[str]) -> torch.Tensor:
    """The named parameters flattened and concatenated, float32."""
    return torch.cat([p.detach().reshape(-1).float() for p in _named(model, names)])


def gradient_sketches(
    model: torch.nn.Module,
    document_loss: Callable[[int], torch.Tensor],
    num_docs: int,
    sketch: CountSketch,
) -> torch.Tensor:
    """(doc, sketch): the sketched gradient of each document's loss at the current weights.

    ``document_loss(i)`` is document i's loss (a forward pass). Gradients are computed in
    eval mode and cleared afterwards; parameters and optimiser state are untouched.
    """
    was_training = model.training
    model.eval()
    rows = []
    try:
        for doc in range(num_docs):
            model.zero_grad(set_to_none=True)
            document_loss(doc).backward()
            grads = [
                p.grad if p.grad is not None else torch.zeros_like(p) for p in model.parameters()
            ]
            rows.append(sketch(grads))
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return torch.stack(rows)

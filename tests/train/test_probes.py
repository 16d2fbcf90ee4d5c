"""The count sketch keeps inner products (so distances and PCA of a trajectory) and is seeded."""

from __future__ import annotations

import torch

from reawaken.train.probes import CountSketch


class Flat(torch.nn.Module):
    def __init__(self, *sizes: int) -> None:
        super().__init__()
        self.parts = torch.nn.ParameterList(torch.nn.Parameter(torch.zeros(n)) for n in sizes)


def test_sketch_is_linear_seeded_and_preserves_inner_products() -> None:
    model = Flat(150_000, 50_000)
    sketch = CountSketch(model, size=4096, seed=3)
    generator = torch.Generator().manual_seed(0)
    u = [torch.randn(150_000, generator=generator), torch.randn(50_000, generator=generator)]
    v = [a + 0.5 * torch.randn(a.shape, generator=generator) for a in u]
    exact = sum(float(a @ b) for a, b in zip(u, v, strict=True))
    # E[<Su, Sv>] = <u, v>; with 4096 buckets the relative error is about 2%
    assert abs(float(sketch(u) @ sketch(v)) / exact - 1) < 0.06
    torch.testing.assert_close(sketch([2 * a for a in u]), 2 * sketch(u))
    again = CountSketch(model, size=4096, seed=3)
    other = CountSketch(model, size=4096, seed=4)
    assert torch.equal(again(u), sketch(u)) and not torch.equal(other(u), sketch(u))

"""Seeded synthetic images (coloured shapes on gradients) for Image GPT runs, made offline.

The paper's Fig. 7a used CIFAR-10; any set of distinct small images shows the same training
dynamics, and these need no download. Image ``k`` is a pure function of ``k`` and the size,
so its ``source_id`` names it exactly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SHAPES", "synthetic_image", "synthetic_image_id"]

SHAPES = ("disc", "square", "triangle", "stripes", "ring")
POOL_SIZE = 100_000  # images a run draws from (selection: random), indices 0..POOL_SIZE-1
IMAGE_STREAM = 0x1A6E  # keeps the image stream apart from other uses of the same numbers


def _shape_of(index: int) -> str:
    return SHAPES[index % len(SHAPES)]


def synthetic_image_id(index: int) -> str:
    """The ``source_id`` of image ``index``: ``synthetic:00042:stripes``.

    Examples
    --------
    >>> synthetic_image_id(7)
    'synthetic:00007:triangle'
    """
    return f"synthetic:{index:05d}:{_shape_of(index)}"


def synthetic_image(index: int, size: int) -> np.ndarray:
    """Image ``index`` as (size, size, 3) uint8: a shape in one colour on a two-colour gradient.

    Examples
    --------
    >>> image = synthetic_image(3, size=8)
    >>> image.shape, image.dtype.name
    ((8, 8, 3), 'uint8')
    >>> bool((synthetic_image(3, size=8) == image).all())
    True
    """
    rng = np.random.default_rng([IMAGE_STREAM, index, size])
    rows, cols = np.mgrid[0:size, 0:size] / max(size - 1, 1)  # (size, size) in [0, 1]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * cols + np.sin(angle) * rows + 1.5) / 3  # in [0, 1]
    start, stop = rng.uniform(0, 255, size=(2, 3))
    image = start + ramp[..., None] * (stop - start)

    centre = rng.uniform(0.25, 0.75, size=2)
    radius = rng.uniform(0.15, 0.35)
    dy, dx = rows - centre[0], cols - centre[1]
    shape = _shape_of(index)
    if shape == "disc":
        inside = dx**2 + dy**2 <= radius**2
    elif shape == "square":
        inside = (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
    elif shape == "triangle":
        inside = (dy <= radius) & (np.abs(dx) <= (dy + radius) / 2)
    elif shape == "stripes":
        inside = np.floor((cols + rows * rng.uniform(-1, 1)) / (radius / 2)) % 2 == 0
    else:  # ring
        distance = np.sqrt(dx**2 + dy**2)
        inside = np.abs(distance - radius) <= radius / 3
    image[inside] = rng.uniform(0, 255, size=3)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)

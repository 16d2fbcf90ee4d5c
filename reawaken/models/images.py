"""Image GPT's "tokenizer": pixels -> the id of the nearest colour cluster, row by row.

Hub Image GPT models ship their 512 colour clusters in ``preprocessor_config.json``; tiny
config-built ones get a fixed RGB grid palette written the same way, so both load through one
path. Quantising here (numpy) rather than with ``ImageGPTImageProcessor`` avoids its image
backends (PIL, torchvision) and its resizing: images are made at the model's size.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from reawaken.errors import ConfigError

__all__ = ["ColourQuantizer", "grid_palette", "write_clusters"]

PREPROCESSOR_FILE = "preprocessor_config.json"


def grid_palette(levels: int) -> np.ndarray:
    """``levels**3`` colours on an even RGB grid, scaled to [-1, 1] like Image GPT's clusters.

    Examples
    --------
    >>> grid_palette(2).tolist()[:3]
    [[-1.0, -1.0, -1.0], [-1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]]
    """
    axis = np.linspace(-1.0, 1.0, levels)
    return np.array(list(itertools.product(axis, repeat=3)), dtype=np.float32)


def write_clusters(directory: str | Path, clusters: np.ndarray, size: int) -> None:
    """Write ``preprocessor_config.json`` as ``ImageGPTImageProcessor.save_pretrained`` does."""
    config = {
        "image_processor_type": "ImageGPTImageProcessor",
        "clusters": np.asarray(clusters, dtype=np.float32).tolist(),
        "do_color_quantize": True,
        "do_normalize": True,
        "do_resize": True,
        "size": {"height": size, "width": size},
    }
    Path(directory, PREPROCESSOR_FILE).write_text(json.dumps(config))


class ColourQuantizer:
    """Maps (height, width, 3) uint8 pixels to cluster ids, the way Image GPT was trained.

    Pixels are scaled to [-1, 1] and each takes the id of the nearest cluster (squared
    Euclidean distance), in raster order. ``pad_token_id`` is Image GPT's start-of-sequence
    id (the last one): it never appears in an image, and padded positions are masked anyway.

    Examples
    --------
    >>> quantizer = ColourQuantizer(grid_palette(2))
    >>> pixels = np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8)
    >>> quantizer.encode(pixels), quantizer.pad_token_id
    ([0, 7], 8)
    """

    def __init__(self, clusters: np.ndarray) -> None:
        self.clusters = np.asarray(clusters, dtype=np.float32)
        self.pad_token_id = len(self.clusters)

    @classmethod
    def from_pretrained(cls, source: str, revision: str | None = None) -> ColourQuantizer:
        """The clusters of a hub id or local folder (its ``preprocessor_config.json``)."""
        from transformers.utils import cached_file

        try:
            path = cached_file(source, PREPROCESSOR_FILE, revision=revision)
            config: dict[str, Any] = json.loads(Path(str(path)).read_text())
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"cannot read the colour clusters of image model {source!r} "
                f"({PREPROCESSOR_FILE}): {error}"
            ) from error
        if "clusters" not in config:
            raise ConfigError(f"{PREPROCESSOR_FILE} of {source!r} has no 'clusters'")
        return cls(np.asarray(config["clusters"]))

    def encode(self, pixels: np.ndarray) -> list[int]:
        """Cluster ids of ``pixels`` in raster order (row by row)."""
        colours = pixels.reshape(-1, 3).astype(np.float32) / 127.5 - 1.0
        distance = ((colours[:, None, :] - self.clusters[None, :, :]) ** 2).sum(-1)
        return distance.argmin(axis=1).tolist()

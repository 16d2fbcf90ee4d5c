"""Load an image classifier: build it (seeded) and load torchvision's weights into it.

Weights come from ``model.vision.weights`` (a local state-dict file) or, by default, from
torchvision's URL through ``torch.hub.load_state_dict_from_url``: a file already in the torch
hub cache (``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``) is used without the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import URLError

import torch
from torch import nn

from reawaken.config import ModelConfig
from reawaken.errors import ConfigError
from reawaken.models.loading import model_info, resolve_device
from reawaken.models.vision import VGG, VisionTransformer, vgg19, vit_b_16

__all__ = ["WEIGHTS", "LoadedClassifier", "build_classifier", "load_classifier", "weights_url"]

#: torchvision's weight files (``VGG19_Weights.IMAGENET1K_V1``, ``ViT_B_16_Weights.IMAGENET1K_V1``)
#: and the parameter counts torchvision documents for them (``meta["num_params"]``).
WEIGHTS = {
    "torchvision:vgg19": ("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", 143_667_240),
    "torchvision:vit_b_16": (
        "https://download.pytorch.org/models/vit_b_16-c867db91.pth",
        86_567_656,
    ),
}


def weights_url(name: str) -> str:
    """torchvision's URL of the weights of ``name`` (``torchvision:vgg19``)."""
    return WEIGHTS[name][0]


@dataclass
class LoadedClassifier:
    """A classifier ready to train and the facts the store records about it."""

    model: VGG | VisionTransformer
    device: torch.device
    info: dict[str, str] = field(default_factory=dict)


def build_classifier(config: ModelConfig) -> VGG | VisionTransformer:
    """The model of ``config`` with torchvision's random initialisation (seed torch first)."""
    vision = config.vision
    if config.name == "torchvision:vgg19":
        if vision.crop_size < 32:  # five 2x2 max-pools
            raise ConfigError(
                f"config key 'model.vision.crop_size': VGG-19 needs at least 32 pixels (five "
                f"2x2 max-pools), got {vision.crop_size}"
            )
        dropout = 0.0 if config.disable_dropout else 0.5
        return vgg19(
            width_divisor=vision.width_divisor, num_classes=vision.num_classes, dropout=dropout
        )
    if vision.crop_size % 16:
        raise ConfigError(
            f"config key 'model.vision.crop_size': {vision.crop_size} is not a multiple of "
            f"ViT-B/16's patch size 16"
        )
    return vit_b_16(
        width_divisor=vision.width_divisor,
        image_size=vision.crop_size,
        num_classes=vision.num_classes,
    )


def _read_weights(config: ModelConfig) -> tuple[dict[str, Any], str]:
    """The state dict and where it came from (a local file, or the URL via the hub cache)."""
    given = config.vision.weights
    if given is not None:
        path = Path(given).expanduser()
        if not path.is_file():
            raise ConfigError(f"config key 'model.vision.weights': no file at {given!r}")
        source = str(path)

        def load() -> dict[str, Any]:
            return torch.load(path, map_location="cpu", weights_only=True)

    else:
        source = weights_url(config.name)
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(source)

        def load() -> dict[str, Any]:
            try:
                return torch.hub.load_state_dict_from_url(
                    source, map_location="cpu", progress=False, check_hash=True, weights_only=True
                )
            except (URLError, OSError) as error:
                raise ConfigError(
                    f"cannot get the weights of {config.name}: {cached} is missing and "
                    f"downloading {source} failed ({getattr(error, 'reason', error)}); put the "
                    "file there (or set TORCH_HOME to the folder above hub/), or give its path "
                    "in model.vision.weights"
                ) from None

    try:
        state = load()
    except ConfigError:
        raise
    except Exception as error:  # torch.load's errors differ by damage: name them all alike
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ConfigError(
            f"{source} is not a state-dict file torch can load ({type(error).__name__}: {reason})"
        ) from None
    if not isinstance(state, dict):
        raise ConfigError(f"{source} holds a {type(state).__name__}, not a state dict")
    return state, source


def _load_into(model: nn.Module, state: dict[str, Any], source: str, name: str) -> None:
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[1:3]
        raise ConfigError(
            f"{source} does not fit {name} at these sizes (model.vision): "
            + " ".join(line.strip() for line in first)
        ) from None


def load_classifier(config: ModelConfig, *, seed: int) -> LoadedClassifier:
    """Build the classifier of ``config``; with ``pretrained``, load its weights (strict).

    Errors are one line: a bad name or size, a missing file with no network (saying where
    to put the file), a file that does not fit the model.
    """
    device = resolve_device(config.device)
    torch.manual_seed(seed)
    if config.pretrained:
        state, source = _read_weights(config)
        with torch.device("meta"):  # the weights replace every tensor: no init to pay for
            model = build_classifier(config)
        _load_into(model, state, source, config.name)
    else:
        model, source = build_classifier(config), ""
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[config.dtype]
    model = model.to(device=device, dtype=dtype)
    info = model_info(
        model,
        device,
        source=config.name,
        model_file=source,
        model_type=config.name.removeprefix("torchvision:"),
    )
    return LoadedClassifier(model, device, info)

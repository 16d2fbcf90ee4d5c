"""The image classifiers' section (``model.vision``): weights file, input size, widths.

The paper's Fig. 7b fine-tunes torchvision's pretrained VGG-19 and ViT-B/16 on ImageNet
batches; ``reawaken.models.vision`` builds both without torchvision and loads torchvision's
weight files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from reawaken.config.base import Section

__all__ = ["VISION_MODELS", "VisionConfig", "is_vision"]

#: Model names of the image classifiers: torchvision's builders, with torchvision's weights.
VISION_MODELS = ("torchvision:vgg19", "torchvision:vit_b_16")


def is_vision(name: str) -> bool:
    """Whether a model name names an image classifier (``torchvision:...``).

    Examples
    --------
    >>> is_vision("torchvision:vgg19"), is_vision("EleutherAI/pythia-1b")
    (True, False)
    """
    return name.startswith("torchvision:")


class VisionConfig(Section):
    """Image classifiers (``model.name: torchvision:vgg19`` or ``torchvision:vit_b_16``).

    Each image is resized so that its shorter side is ``resize_size``, centre-cropped to
    ``crop_size`` and normalised with ImageNet's mean and std: torchvision's evaluation
    transform for both models' weights (256, 224).
    """

    weights: str | None = Field(
        None,
        description="local file of the model's state dict (default: torchvision's file, from "
        "the torch hub cache, $TORCH_HOME/hub/checkpoints, downloaded there if missing)",
    )
    resize_size: int = Field(256, ge=2, description="shorter side of each resized image")
    crop_size: int = Field(224, ge=2, description="side of the centre crop the model sees")
    width_divisor: Literal[1, 2, 4, 8, 16, 32, 64] = Field(
        1, description="divide every width by this (1: the real model; --smoke uses 16)"
    )
    num_classes: int = Field(1000, ge=2, description="classes of the final layer (ImageNet: 1000)")

    @model_validator(mode="after")
    def _crop_fits(self) -> VisionConfig:
        if self.crop_size > self.resize_size:
            raise ValueError(
                f"model.vision.crop_size {self.crop_size} must not exceed resize_size "
                f"{self.resize_size}"
            )
        return self

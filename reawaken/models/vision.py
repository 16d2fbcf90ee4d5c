"""VGG-19 and ViT-B/16 built as torchvision builds them, key for key, without torchvision.

torchvision's weight files load into these modules with ``load_state_dict(strict=True)``:
module names, parameter shapes and random initialisation follow torchvision's
``models/vgg.py`` (configuration "E", dropout 0.5) and ``models/vision_transformer.py``
(patch 16, 12 blocks, 12 heads, width 768, MLP 3072, no dropout). torchvision itself is not
used: its CUDA wheels do not import beside a CPU torch. ``width_divisor`` divides every
width (channels, hidden units, heads' width), for the tiny stand-ins of ``--smoke`` and tests.

Both models offer :meth:`classify`, the logits together with the representations the store
keeps (``activation``), indexed like a language model's layers 0..L with L the penultimate
features, the input of the final linear layer (see ``num_layers``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["VGG", "VGG19_CONFIG", "VisionTransformer", "vgg19", "vit_b_16"]

#: torchvision's ``cfgs["E"]``: conv widths, "M" = 2x2 max-pool.
VGG19_CONFIG: tuple[int | str, ...] = (
    *(64, 64, "M", 128, 128, "M"),
    *(256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
)


class VGG(nn.Module):
    """torchvision's VGG: ``features`` (conv/ReLU/max-pool), 7x7 average pool, ``classifier``.

    Layers of :meth:`classify`: 0 = the first hidden layer of the classifier (after its
    ReLU), 1 = the second, the penultimate features (``num_layers`` = 1). The convolutional
    stages have other widths than these, so they are not offered.

    Examples
    --------
    >>> model = vgg19(width_divisor=16, num_classes=5)
    >>> logits, features = model.classify(torch.zeros(2, 3, 32, 32), [0, 1])
    >>> logits.shape, features.shape
    (torch.Size([2, 5]), torch.Size([2, 2, 256]))
    """

    num_layers = 1

    def __init__(
        self,
        widths: Sequence[int | str],
        *,
        hidden_size: int = 4096,
        num_classes: int = 1000,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in widths:
            if width == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(width), kernel_size=3, padding=1)]
                layers.append(nn.ReLU(inplace=True))
                channels = int(width)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, hidden_size),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_size, num_classes),
        )
        self.hidden_size = hidden_size
        for module in self.modules():  # torchvision's VGG._initialize_weights
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(module.bias, 0)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.constant_(module.bias, 0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(images, ())[0]

    def classify(
        self, images: torch.Tensor, layers: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (image, class) and the features at ``layers`` (image, layer, hidden)."""
        x = torch.flatten(self.avgpool(self.features(images)), 1)
        hidden = []
        for index, module in enumerate(self.classifier):
            x = module(x)
            if index in (1, 4):  # after each hidden layer's ReLU (no later op is in place)
                hidden.append(x)
        features = torch.stack([hidden[layer] for layer in layers], 1) if layers else None
        return x, features

    def get_output_embeddings(self) -> nn.Linear:
        """The final linear layer (features -> class logits): ``probes.weights: [unembedding]``."""
        return self.classifier[-1]


class MLPBlock(nn.Sequential):
    """torchvision's ``MLPBlock``: Linear, GELU, Dropout, Linear, Dropout (keys ``0``, ``3``)."""

    def __init__(self, width: int, mlp_width: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(width, mlp_width),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_width, width),
            nn.Dropout(dropout),
        )
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.normal_(module.bias, std=1e-6)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # Files saved before torchvision 0.14 name the two layers linear_1 and linear_2.
        for old, new in (("linear_1", "0"), ("linear_2", "3")):
            for kind in ("weight", "bias"):
                if f"{prefix}{old}.{kind}" in state_dict:
                    state_dict[f"{prefix}{new}.{kind}"] = state_dict.pop(f"{prefix}{old}.{kind}")
        super()._load_from_state_dict(state_dict, prefix, *args)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + attention(ln_1(x)), then + mlp(ln_2(.))."""

    def __init__(self, heads: int, width: int, mlp_width: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = MLPBlock(width, mlp_width, dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.ln_1(tokens)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + tokens
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Position embedding, the blocks (``encoder_layer_0``...) and the final norm ``ln``."""

    def __init__(
        self, tokens: int, depth: int, heads: int, width: int, mlp_width: int, dropout: float
    ) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, tokens, width).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        blocks = OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(heads, width, mlp_width, dropout))
            for i in range(depth)
        )
        self.layers = nn.Sequential(blocks)
        self.ln = nn.LayerNorm(width, eps=1e-6)


class VisionTransformer(nn.Module):
    """torchvision's ViT: 16x16 patches, a class token, the encoder, ``heads.head``.

    Layers of :meth:`classify`: l = 0..L-1, the mean over all tokens after l blocks (0 =
    patch embeddings plus positions); L (``num_layers``, or -1) = the class token after the
    final norm, the penultimate features the head classifies. Before the last blocks the
    class token has not yet gathered the image (after 0 blocks it is the same for every
    image), so the earlier layers describe the image by the mean of its tokens.

    Examples
    --------
    >>> model = vit_b_16(width_divisor=16, image_size=32, num_classes=5)
    >>> logits, features = model.classify(torch.zeros(2, 3, 32, 32), [0, 12])
    >>> logits.shape, features.shape, model.num_layers
    (torch.Size([2, 5]), torch.Size([2, 2, 48]), 12)
    """

    def __init__(
        self,
        *,
        image_size: int = 224,
        patch_size: int = 16,
        depth: int = 12,
        heads: int = 12,
        width: int = 768,
        mlp_width: int = 3072,
        num_classes: int = 1000,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(
                f"image size {image_size} is not a multiple of patch size {patch_size}"
            )
        self.image_size, self.patch_size = image_size, patch_size
        self.hidden_size, self.num_layers = width, depth
        self.conv_proj = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, width))
        tokens = (image_size // patch_size) ** 2 + 1
        self.encoder = Encoder(tokens, depth, heads, width, mlp_width, dropout)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(width, num_classes)))
        fan_in = 3 * patch_size * patch_size
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(images, ())[0]

    def classify(
        self, images: torch.Tensor, layers: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (image, class) and the features at ``layers`` (image, layer, hidden)."""
        if images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"images must be {self.image_size}x{self.image_size}")
        patches = self.conv_proj(images).flatten(2).transpose(1, 2)  # (image, patch, width)
        cls = self.class_token.expand(len(images), -1, -1)
        x = self.encoder.dropout(torch.cat([cls, patches], 1) + self.encoder.pos_embedding)
        states = [x]
        for block in self.encoder.layers:
            x = block(x)
            states.append(x)
        features_in = self.encoder.ln(x)[:, 0]
        logits = self.heads(features_in)
        if not layers:
            return logits, None
        chosen = [
            features_in if layer == self.num_layers else states[layer].mean(1) for layer in layers
        ]
        return logits, torch.stack(chosen, 1)

    def get_output_embeddings(self) -> nn.Linear:
        """The classification head (features -> class logits)."""
        return self.heads.head


def vgg19(*, width_divisor: int = 1, num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """torchvision's ``vgg19()`` (143,667,240 parameters at full width, 1000 classes)."""
    widths = [w if w == "M" else int(w) // width_divisor for w in VGG19_CONFIG]
    return VGG(widths, hidden_size=4096 // width_divisor, num_classes=num_classes, dropout=dropout)


def vit_b_16(
    *, width_divisor: int = 1, image_size: int = 224, num_classes: int = 1000
) -> VisionTransformer:
    """torchvision's ``vit_b_16()`` (86,567,656 parameters at full width and 224 pixels)."""
    return VisionTransformer(
        image_size=image_size,
        width=768 // width_divisor,
        mlp_width=3072 // width_divisor,
        num_classes=num_classes,
    )

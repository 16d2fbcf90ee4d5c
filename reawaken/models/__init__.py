"""Model factory: hub id, local directory or built-in model; config-built init; what trains."""

from __future__ import annotations

from reawaken.models.images import ColourQuantizer
from reawaken.models.init import pythia_init_
from reawaken.models.loading import (
    LoadedModel,
    file_digest,
    load_model,
    model_info,
    resize_to_tokenizer,
    resolve_device,
    weights_digest,
)
from reawaken.models.tiny import (
    builtin_model_dir,
    model_family,
    save_tiny_gpt2,
    save_tiny_imagegpt,
    save_tiny_llama,
    save_tiny_model,
    smoke_model_dir,
)
from reawaken.models.toy import ToyModel, build_toy
from reawaken.models.trainable import transformer_blocks

__all__ = [
    "ColourQuantizer",
    "LoadedModel",
    "ToyModel",
    "build_toy",
    "builtin_model_dir",
    "file_digest",
    "load_model",
    "model_family",
    "model_info",
    "pythia_init_",
    "resize_to_tokenizer",
    "resolve_device",
    "save_tiny_gpt2",
    "save_tiny_imagegpt",
    "save_tiny_llama",
    "save_tiny_model",
    "smoke_model_dir",
    "transformer_blocks",
    "weights_digest",
]

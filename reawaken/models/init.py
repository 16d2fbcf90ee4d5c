"""Initialisation schemes of config-built models (Pythia's rescaling)."""

from __future__ import annotations

import math

import torch
from transformers import PreTrainedModel

__all__ = ["pythia_init_"]


def pythia_init_(model: PreTrainedModel) -> None:
    """Rescale a freshly built GPT-NeoX to Pythia's initialisation (paper App. A.1, Fig. 15).

    ``query_key_value``, ``dense_h_to_4h`` and the embeddings get std sqrt(2 / (5 d))
    ("small init"); ``attention.dense`` and ``dense_4h_to_h`` get std 2 / (L sqrt(d))
    ("wang init"); norms and biases are untouched. Generic over width d and depth L, unlike the
    authors' script, which hard-codes Pythia-1B's.
    """
    config = model.config
    width, depth = config.hidden_size, config.num_hidden_layers
    small, wang = math.sqrt(2 / (5 * width)), 2 / (depth * math.sqrt(width))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                continue
            if "attention.dense" in name or "dense_4h_to_h" in name:
                parameter.normal_(0.0, wang)
            else:
                parameter.normal_(0.0, small)

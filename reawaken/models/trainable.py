"""Which weights train: frozen blocks and embeddings, LoRA adapters, dropout off.

Everything here works on any ``transformers`` decoder: the blocks are found as the model's
``ModuleList`` with ``num_hidden_layers`` entries (GPT-NeoX ``gpt_neox.layers``, GPT-2 and
Image GPT ``transformer.h``, Llama ``model.layers``), not by hard-coded parameter indices as
in the authors' script (which assumed Pythia-1B's 16 layers).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedModel

from reawaken.config import ModelConfig
from reawaken.errors import ConfigError

__all__ = ["apply_trainable", "disable_dropout", "transformer_blocks", "zero_dropout_config"]

LORA_SEED_OFFSET = 104_729  # adapters get their own seeded init, apart from the run's stream


def transformer_blocks(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The model's list of transformer blocks, in depth order."""
    depth = model.config.num_hidden_layers
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == depth:
            return module
    raise ConfigError(
        f"cannot find the {depth} transformer blocks of this {model.config.model_type} model "
        "(model.freeze_first_blocks / freeze_last_blocks need them)"
    )


def zero_dropout_config(config: Any) -> None:
    """Set every dropout probability of a model config (``*dropout``, ``*pdrop``) to 0."""
    for key, value in config.to_dict().items():
        if isinstance(value, float) and (key.endswith("dropout") or key.endswith("pdrop")):
            setattr(config, key, 0.0)


def disable_dropout(model: torch.nn.Module) -> None:
    """Set every dropout probability to 0, in modules and in the config that forwards read."""
    zero_dropout_config(model.config)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "attention_dropout", None), float):
            module.attention_dropout = 0.0  # GPT-NeoX reads this float in attention


def _add_lora(model: PreTrainedModel, config: ModelConfig, seed: int) -> None:
    try:
        import peft
    except ImportError as error:
        raise ConfigError(
            "config key 'model.lora' needs the peft package: pip install peft "
            "(or set model.lora to null)"
        ) from error
    lora = config.lora
    assert lora is not None
    settings = peft.LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules) if lora.target_modules else None,
    )
    # In place: the model stays a transformers model (evaluation calls model.base_model), the
    # adapters become ordinary parameters in state_dict and checkpoints.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + LORA_SEED_OFFSET)
        try:
            peft.inject_adapter_in_model(settings, model)
        except ValueError as error:
            raise ConfigError(f"config key 'model.lora.target_modules': {error}") from error


def apply_trainable(model: PreTrainedModel, config: ModelConfig, *, seed: int) -> None:
    """Add LoRA adapters and freeze what ``config`` says; ``requires_grad`` marks the rest.

    With LoRA only the adapters train. Frozen blocks (the first ``freeze_first_blocks``, the
    last ``freeze_last_blocks``) and, with ``freeze_embeddings``, the input token and position
    embeddings are excluded from the optimiser, so they stay bit-identical through a run.
    """
    if config.disable_dropout:
        disable_dropout(model)
    if config.lora is not None:
        _add_lora(model, config, seed)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_("lora_" in name)
    first, last = config.freeze_first_blocks, config.freeze_last_blocks
    if first or last:
        blocks = transformer_blocks(model)
        if first + last > len(blocks):
            raise ConfigError(
                f"config keys 'model.freeze_first_blocks' ({first}) + 'model.freeze_last_blocks'"
                f" ({last}) exceed the model's {len(blocks)} transformer blocks"
            )
        for block in [*blocks[:first], *blocks[len(blocks) - last :]]:
            block.requires_grad_(False)
    if config.freeze_embeddings:
        model.get_input_embeddings().requires_grad_(False)
        position = getattr(model.base_model, "wpe", None)  # GPT-2 / Image GPT; NeoX is rotary
        if isinstance(position, torch.nn.Module):
            position.requires_grad_(False)
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError(
            "every parameter is frozen (model.freeze_first_blocks, freeze_last_blocks, "
            "freeze_embeddings, lora): nothing would train"
        )

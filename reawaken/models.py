"""Model factory: hub id, local directory or the built-in tiny GPT-NeoX; config-built init.

Every model goes through the same ``transformers`` loading path. The built-in model is a
directory this module writes once (config + the bundled tokenizer), so the offline demo and
the tests exercise exactly the code that loads ``EleutherAI/pythia-1b`` from the hub.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GPTNeoXConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from reawaken.config import ModelConfig
from reawaken.errors import ConfigError

__all__ = [
    "LoadedModel",
    "builtin_model_dir",
    "load_model",
    "pythia_init_",
    "resolve_device",
    "save_tiny_model",
]

log = logging.getLogger(__name__)

#: The built-in model's shape: GPT-NeoX as in Pythia (rotary 25%, parallel residual, untied).
TINY_NEOX = {
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "max_position_embeddings": 2048,
    "rotary_pct": 0.25,
    "use_parallel_residual": True,
    "tie_word_embeddings": False,
    "hidden_dropout": 0.0,
    "attention_dropout": 0.0,
}
# Architecture override keys -> the GPT-NeoX config names they set.
ARCHITECTURE_KEYS = {
    "hidden_size": "hidden_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
}


@dataclass
class LoadedModel:
    """A model ready to train, its tokenizer and facts recorded in the store."""

    model: PreTrainedModel
    tokenizer: Any
    device: torch.device
    info: dict[str, str] = field(default_factory=dict)

    def tokenize(self, text: str, max_length: int) -> list[int]:
        encoded = self.tokenizer(
            text, add_special_tokens=False, truncation=True, max_length=max_length
        )
        return list(encoded["input_ids"])

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)


def resolve_device(choice: str) -> torch.device:
    """``auto`` picks CUDA when available; asking for CUDA without one is a config error."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'model.device' is 'cuda' but no CUDA device is visible")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def _cache_root() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reawaken"
    return Path(os.environ.get("REAWAKEN_CACHE", default))


def save_tiny_model(
    directory: str | Path, *, weights: bool = False, seed: int = 0, **overrides: Any
) -> Path:
    """Write a tiny GPT-NeoX model folder (config, bundled tokenizer, optional weights).

    The folder loads with ``AutoModelForCausalLM.from_pretrained`` like any hub model; tests
    use it as a stand-in for a downloaded checkpoint.

    Examples
    --------
    >>> import tempfile
    >>> path = save_tiny_model(tempfile.mkdtemp(), hidden_size=32, num_hidden_layers=1)
    >>> sorted(p.name for p in path.iterdir())[:2]
    ['config.json', 'special_tokens_map.json']
    """
    directory = Path(directory)
    tokenizer_file = resources.files("reawaken.data") / "assets" / "tokenizer.json"
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file),
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=2048,
    )
    settings = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.eos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        **TINY_NEOX,
        **overrides,
    }
    config = GPTNeoXConfig(**settings)
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if weights:
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
        pythia_init_(model)
        model.save_pretrained(directory)
    return directory


def builtin_model_dir(name: str) -> Path:
    """The folder of a built-in model, written on first use (atomically) in the cache."""
    if name != "builtin:tiny-neox":
        raise ConfigError(f"unknown built-in model {name!r}")
    target = _cache_root() / "models" / "tiny-neox-v1"
    if not (target / "config.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tiny-neox-"))
        save_tiny_model(staging)
        try:
            staging.rename(target)
        except OSError:  # another process won the race; its folder is identical
            shutil.rmtree(staging, ignore_errors=True)
    return target


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


def _apply_architecture(config: Any, model_config: ModelConfig) -> None:
    for key, value in model_config.architecture.model_dump().items():
        if value is None:
            continue
        target = ARCHITECTURE_KEYS[key]
        if not hasattr(config, target):
            raise ConfigError(
                f"config key 'model.architecture.{key}' cannot be applied to a "
                f"{config.model_type} model (it has no '{target}')"
            )
        setattr(config, target, value)
    if config.hidden_size % config.num_attention_heads:
        raise ConfigError(
            f"model.architecture: hidden_size {config.hidden_size} is not divisible by "
            f"num_heads {config.num_attention_heads}"
        )


def weights_digest(model: PreTrainedModel) -> str:
    """SHA-256 of all parameters, to tell apart checkpoints that share a name (Pythia step0)."""
    digest = hashlib.sha256()
    for name, parameter in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(parameter.detach().to("cpu", torch.float32).numpy().tobytes())
    return digest.hexdigest()


def load_model(config: ModelConfig, *, seed: int) -> LoadedModel:
    """Load (or build from config) the model and tokenizer named by ``config``."""
    device = resolve_device(config.device)
    location = builtin_model_dir(config.name) if config.name.startswith("builtin:") else None
    source = str(location or Path(config.name).expanduser())
    source = source if (location or Path(source).is_dir()) else config.name
    revision = None if location or Path(source).is_dir() else config.revision
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[config.dtype]
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
        model_config = AutoConfig.from_pretrained(source, revision=revision)
    except OSError as error:
        raise ConfigError(f"cannot load model {config.name!r}: {error}") from error
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if config.pretrained:
        if any(v is not None for v in config.architecture.model_dump().values()):
            raise ConfigError(
                "model.architecture overrides need model.pretrained=false (a pretrained "
                "checkpoint has a fixed architecture)"
            )
        try:
            model = AutoModelForCausalLM.from_pretrained(source, revision=revision, dtype=dtype)
        except OSError as error:
            raise ConfigError(
                f"cannot load weights of {config.name!r} (revision {config.revision!r}): {error}"
                + (
                    "; the built-in model has no weights: set model.pretrained=false"
                    if location
                    else ""
                )
            ) from error
    else:
        _apply_architecture(model_config, config)
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(model_config, dtype=dtype)
        if config.init_scheme == "pythia":
            if model_config.model_type != "gpt_neox":
                raise ConfigError(
                    f"model.init_scheme 'pythia' applies to GPT-NeoX models, not "
                    f"{model_config.model_type}; use init_scheme=default"
                )
            pythia_init_(model)
    model.to(device)
    info = {
        "model_source": source,
        "model_revision": str(revision or ""),
        "model_commit": str(getattr(model.config, "_commit_hash", "") or ""),
        "num_parameters": str(sum(p.numel() for p in model.parameters())),
        "weights_sha256": weights_digest(model),
        "device": str(device),
    }
    log.info("loaded %s (%s parameters) on %s", config.name, info["num_parameters"], device)
    return LoadedModel(model=model, tokenizer=tokenizer, device=device, info=info)

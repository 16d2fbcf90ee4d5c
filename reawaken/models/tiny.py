"""Tiny local model folders: the built-in model and stand-ins for each family (``--smoke``).

Each folder loads with ``from_pretrained`` like a downloaded checkpoint, so the offline demo,
the tests and ``reawaken run --smoke`` exercise exactly the code that loads
``EleutherAI/pythia-1b`` or ``openai/imagegpt-small`` from the hub.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPTNeoXConfig,
    ImageGPTConfig,
    ImageGPTForCausalImageModeling,
    LlamaConfig,
    PreTrainedTokenizerFast,
)

from reawaken.errors import ConfigError
from reawaken.models.images import grid_palette, write_clusters
from reawaken.models.init import pythia_init_

__all__ = [
    "SMOKE_FAMILIES",
    "builtin_model_dir",
    "cache_root",
    "model_family",
    "save_tiny_gpt2",
    "save_tiny_imagegpt",
    "save_tiny_llama",
    "save_tiny_model",
    "smoke_model_dir",
]

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
#: Shape of every smoke stand-in: as small as still runs each code path.
SMOKE_SHAPE = {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64}
PALETTE_LEVELS = 4  # tiny Image GPT: 4**3 = 64 colour clusters


def cache_root() -> Path:
    """Where generated models and files live: ``$REAWAKEN_CACHE`` or ``~/.cache/reawaken``."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reawaken"
    return Path(os.environ.get("REAWAKEN_CACHE", default))


def _bundled_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer_file = resources.files("reawaken.data") / "assets" / "tokenizer.json"
    return PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file),
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=2048,
    )


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
    >>> {"config.json", "tokenizer.json"} <= {p.name for p in path.iterdir()}
    True
    """
    directory = Path(directory)
    tokenizer = _bundled_tokenizer()
    settings = {
        "vocab_size": len(tokenizer),  # overridable: benchmarks use Pythia's 50304 rows
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


def save_tiny_gpt2(
    directory: str | Path, *, weights: bool = False, seed: int = 0, **overrides: Any
) -> Path:
    """Write a tiny GPT-2 folder with the bundled tokenizer (a stand-in for gpt2-large)."""
    settings = {"n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 1024, **overrides}
    return _save_tiny_causal_lm(GPT2Config, settings, directory, weights=weights, seed=seed)


def save_tiny_llama(
    directory: str | Path, *, weights: bool = False, seed: int = 0, **overrides: Any
) -> Path:
    """Write a tiny Llama folder with the bundled tokenizer (a stand-in for SmolLM2, Llama).

    Examples
    --------
    >>> import tempfile
    >>> path = save_tiny_llama(tempfile.mkdtemp())
    >>> {"config.json", "tokenizer.json"} <= {p.name for p in path.iterdir()}
    True
    """
    settings = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "intermediate_size": 64,
        "max_position_embeddings": 1024,
        "tie_word_embeddings": True,  # as SmolLM2's
        **overrides,
    }
    return _save_tiny_causal_lm(LlamaConfig, settings, directory, weights=weights, seed=seed)


def _save_tiny_causal_lm(
    config_class: type, settings: dict[str, Any], directory: str | Path, *, weights: bool, seed: int
) -> Path:
    """Write a config (and, with ``weights``, a seeded random init) and the bundled tokenizer."""
    directory = Path(directory)
    tokenizer = _bundled_tokenizer()
    config = config_class(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **settings,
    )
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if weights:
        torch.manual_seed(seed)
        AutoModelForCausalLM.from_config(config).save_pretrained(directory)
    return directory


def save_tiny_imagegpt(
    directory: str | Path, *, weights: bool = False, seed: int = 0, **overrides: Any
) -> Path:
    """Write a tiny Image GPT folder: config, a 64-colour grid palette and optional weights.

    Examples
    --------
    >>> import tempfile
    >>> path = save_tiny_imagegpt(tempfile.mkdtemp())
    >>> sorted(p.name for p in path.iterdir())
    ['config.json', 'preprocessor_config.json']
    """
    directory = Path(directory)
    clusters = grid_palette(PALETTE_LEVELS)
    settings = {"n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 1024, **overrides}
    # vocab = clusters + 1: Image GPT's last id is its start-of-sequence token.
    config = ImageGPTConfig(vocab_size=len(clusters) + 1, **settings)
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(directory)
    write_clusters(directory, clusters, size=math.isqrt(config.n_positions))
    if weights:
        torch.manual_seed(seed)
        ImageGPTForCausalImageModeling(config).save_pretrained(directory)
    return directory


def _materialise(target: Path, build: Callable[[Path], Path]) -> Path:
    """Build ``target`` once, atomically (a concurrent builder's identical folder wins)."""
    if not (target / "config.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
        build(staging)
        try:
            staging.rename(target)
        except OSError:  # another process won the race; its folder is identical
            shutil.rmtree(staging, ignore_errors=True)
    return target


def builtin_model_dir(name: str) -> Path:
    """The folder of a built-in model, written on first use (atomically) in the cache."""
    if name != "builtin:tiny-neox":
        raise ConfigError(f"unknown built-in model {name!r}")
    return _materialise(cache_root() / "models" / "tiny-neox-v1", save_tiny_model)


_NEOX_SMOKE = {
    "hidden_size": SMOKE_SHAPE["hidden_size"],
    "num_hidden_layers": SMOKE_SHAPE["num_layers"],
    "num_attention_heads": SMOKE_SHAPE["num_heads"],
    "intermediate_size": SMOKE_SHAPE["intermediate_size"],
}
_GPT_SMOKE = {
    "n_embd": SMOKE_SHAPE["hidden_size"],
    "n_layer": SMOKE_SHAPE["num_layers"],
    "n_head": SMOKE_SHAPE["num_heads"],
}
#: model_type -> writer of its smoke stand-in (with weights, so ``pretrained: true`` loads).
SMOKE_FAMILIES: dict[str, Callable[[Path], Path]] = {
    "gpt_neox": lambda path: save_tiny_model(path, weights=True, **_NEOX_SMOKE),
    "gpt2": lambda path: save_tiny_gpt2(path, weights=True, **_GPT_SMOKE),
    "imagegpt": lambda path: save_tiny_imagegpt(path, weights=True, **_GPT_SMOKE),
    "llama": lambda path: save_tiny_llama(path, weights=True, **_NEOX_SMOKE),
}
# Hub ids whose family is known without the network, by a part of the name.
_NAME_HINTS = (
    ("pythia", "gpt_neox"),
    ("neox", "gpt_neox"),
    ("imagegpt", "imagegpt"),
    ("smollm", "llama"),
    ("llama", "llama"),
)


def _gguf_architecture(path: Path) -> str | None:
    """The ``general.architecture`` of a GGUF file (llama, gpt2, ...), if it can be read."""
    try:
        from gguf import GGUFReader
    except ImportError:
        return None
    field = GGUFReader(path).fields.get("general.architecture")
    return None if field is None else bytes(field.parts[field.data[0]]).decode()


def model_family(name: str) -> str:
    """The ``model_type`` of a model name, found offline (local config or a known hub name).

    Examples
    --------
    >>> model_family("EleutherAI/pythia-1b"), model_family("openai/imagegpt-small")
    ('gpt_neox', 'imagegpt')
    >>> model_family("gpt2-large")
    'gpt2'
    """
    if name.startswith("builtin:"):
        return "gpt_neox"
    file = Path(name).expanduser()
    if name.endswith(".gguf") and file.is_file():
        architecture = _gguf_architecture(file)
        if architecture is not None:
            return {"gptneox": "gpt_neox"}.get(architecture, architecture)
    local = file / "config.json"
    if local.is_file():
        return str(json.loads(local.read_text()).get("model_type"))
    lowered = name.lower()
    for hint, family in _NAME_HINTS:
        if hint in lowered:
            return family
    if lowered.rsplit("/", 1)[-1].startswith(("gpt2", "distilgpt2")):
        return "gpt2"
    raise ConfigError(
        f"--smoke cannot tell the model family of {name!r} offline; known families: "
        f"{', '.join(SMOKE_FAMILIES)} (pythia*, gpt2*, imagegpt* names, or a local folder)"
    )


def smoke_model_dir(family: str) -> Path:
    """A tiny local model of ``family`` (with weights), written once into the cache."""
    if family not in SMOKE_FAMILIES:
        raise ConfigError(
            f"--smoke has no tiny stand-in for {family!r} models; it has: "
            f"{', '.join(SMOKE_FAMILIES)}"
        )
    target = cache_root() / "models" / f"smoke-{family}-v1"
    return _materialise(target, SMOKE_FAMILIES[family])

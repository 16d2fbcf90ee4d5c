"""Load a model and its tokenizer: hub id, local directory, GGUF file or built-in.

Every model goes through the same ``transformers`` loading path. A ``.gguf`` file loads
dequantised to float, with the tokenizer embedded in the file (needs the ``gguf`` package).
Image GPT models, which ``AutoModelForCausalLM`` does not map, load as
``ImageGPTForCausalImageModeling`` with a colour quantiser in place of a tokenizer.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    ImageGPTForCausalImageModeling,
    PreTrainedModel,
)

from reawaken.config import ModelConfig
from reawaken.errors import ConfigError
from reawaken.models.images import ColourQuantizer
from reawaken.models.init import pythia_init_
from reawaken.models.tiny import builtin_model_dir
from reawaken.models.trainable import apply_trainable, zero_dropout_config

__all__ = [
    "LoadedModel",
    "ModelSource",
    "file_digest",
    "load_model",
    "model_source",
    "resize_to_tokenizer",
    "resolve_device",
    "weights_digest",
]

log = logging.getLogger(__name__)

# Architecture override keys -> the GPT-NeoX config names they set (GPT-2 and Image GPT
# configs map the first three through their attribute_map).
ARCHITECTURE_KEYS = {
    "hidden_size": "hidden_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
}
IMAGE_MODEL_TYPES = ("imagegpt",)


@dataclass
class LoadedModel:
    """A model ready to train, its tokenizer (or colour quantiser) and facts for the store."""

    model: PreTrainedModel
    tokenizer: Any
    device: torch.device
    info: dict[str, str] = field(default_factory=dict)

    @property
    def is_image_model(self) -> bool:
        return isinstance(self.tokenizer, ColourQuantizer)

    def tokenize(self, content: str | np.ndarray, max_length: int) -> list[int]:
        """First ``max_length`` token ids of a text, or cluster ids of an image's pixels."""
        if isinstance(content, np.ndarray) != self.is_image_model:
            raise ConfigError(
                "config key 'data.source': image data (synthetic_images) needs an image model "
                "(Image GPT) and text data a language model; got "
                f"{'image' if isinstance(content, np.ndarray) else 'text'} data for a "
                f"{self.model.config.model_type} model"
            )
        if isinstance(content, np.ndarray):
            return self.tokenizer.encode(content)[:max_length]
        encoded = self.tokenizer(
            content, add_special_tokens=False, truncation=True, max_length=max_length
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


def model_info(
    model: torch.nn.Module,
    device: torch.device,
    *,
    source: str,
    revision: str = "",
    commit: str = "",
    **extra: str,
) -> dict[str, str]:
    """What a store records of its loaded model (every family): where it came from, its
    parameter counts (trainable = ``requires_grad``), the weights' digest and the device.

    Examples
    --------
    >>> info = model_info(torch.nn.Linear(2, 1), torch.device("cpu"), source="toy:linear")
    >>> info["num_parameters"], info["num_trainable_parameters"], info["device"]
    ('3', '3', 'cpu')
    """
    parameters = list(model.parameters())
    return {
        "model_source": source,
        **extra,
        "model_revision": revision,
        "model_commit": commit,
        "num_parameters": str(sum(p.numel() for p in parameters)),
        "num_trainable_parameters": str(sum(p.numel() for p in parameters if p.requires_grad)),
        "weights_sha256": weights_digest(model),
        "device": str(device),
    }


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (a GGUF model file), read in 1 MB pieces."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while piece := stream.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelSource:
    """Where ``from_pretrained`` finds a model: a hub id or folder, and a GGUF file in it."""

    location: str
    revision: str | None = None
    gguf_file: str | None = None

    @property
    def options(self) -> dict[str, Any]:
        """Keyword arguments of every ``from_pretrained`` call for this source."""
        return {"revision": self.revision} | (
            {"gguf_file": self.gguf_file} if self.gguf_file else {}
        )


def model_source(config: ModelConfig) -> ModelSource:
    """Resolve ``model.name``: built-in folder, local ``.gguf`` file, local folder or hub id."""
    name = config.name
    if name.startswith("builtin:"):
        return ModelSource(str(builtin_model_dir(name)))
    path = Path(name).expanduser()
    if name.endswith(".gguf"):
        if not path.is_file():
            raise ConfigError(
                f"config key 'model.name': GGUF file {name!r} does not exist (give the path of "
                "a .gguf file, e.g. SmolLM2-135M-Instruct.Q4_1.gguf; see the README)"
            )
        try:
            import gguf  # noqa: F401  (transformers reads the file with it)
        except ImportError as error:
            raise ConfigError(
                f"model {name!r} is a GGUF file: loading it needs the gguf package "
                "(pip install 'reawaken[gguf]')"
            ) from error
        return ModelSource(str(path.resolve().parent), gguf_file=path.name)
    if path.is_dir():
        return ModelSource(str(path))
    return ModelSource(name, revision=config.revision)


def _tokenizer(source: ModelSource, model_type: str) -> Any:
    if model_type in IMAGE_MODEL_TYPES:
        return ColourQuantizer.from_pretrained(source.location, source.revision)
    tokenizer = AutoTokenizer.from_pretrained(source.location, **source.options)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _build(config: ModelConfig, model_config: Any, dtype: torch.dtype, seed: int) -> Any:
    """A randomly initialised model of ``model_config`` (seeded), with the chosen init."""
    _apply_architecture(model_config, config)
    torch.manual_seed(seed)
    if model_config.model_type in IMAGE_MODEL_TYPES:
        model = ImageGPTForCausalImageModeling(model_config).to(dtype)
    else:
        model = AutoModelForCausalLM.from_config(model_config, dtype=dtype)
    scheme = config.init_scheme
    if scheme == "auto":
        scheme = "pythia" if model_config.model_type == "gpt_neox" else "default"
    if scheme == "pythia":
        if model_config.model_type != "gpt_neox":
            raise ConfigError(
                f"model.init_scheme 'pythia' applies to GPT-NeoX models, not "
                f"{model_config.model_type}; use init_scheme=default"
            )
        pythia_init_(model)
    return model


def _from_pretrained(
    config: ModelConfig, source: ModelSource, model_config: Any, dtype: Any
) -> Any:
    if any(v is not None for v in config.architecture.model_dump().values()):
        raise ConfigError(
            "model.architecture overrides need model.pretrained=false (a pretrained "
            "checkpoint has a fixed architecture)"
        )
    image = model_config.model_type in IMAGE_MODEL_TYPES
    loader = ImageGPTForCausalImageModeling if image else AutoModelForCausalLM
    try:
        return loader.from_pretrained(
            source.location, config=model_config, dtype=dtype, **source.options
        )
    except OSError as error:
        builtin = config.name.startswith("builtin:")
        raise ConfigError(
            f"cannot load weights of {config.name!r} (revision {config.revision!r}): {error}"
            + ("; the built-in model has no weights: set model.pretrained=false" if builtin else "")
        ) from error


def resize_to_tokenizer(model: PreTrainedModel, tokenizer: Any) -> bool:
    """Give the (un)embedding ``len(tokenizer)`` rows, as the authors' scripts do.

    Pythia's checkpoints carry 50,304 rows for a 50,277-token tokenizer; the extra logits
    take part in the softmax, so the losses differ from the paper's unless they are cut.
    Kept rows are unchanged. Returns whether the model changed.
    """
    rows = model.get_input_embeddings().weight.shape[0]
    if isinstance(tokenizer, ColourQuantizer) or rows == len(tokenizer):
        return False
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    return True


def load_model(config: ModelConfig, *, seed: int) -> LoadedModel:
    """Load (or build from config) the model and tokenizer named by ``config``.

    With ``resize_to_tokenizer`` the (un)embedding is cut (or grown) to the tokenizer's
    size. Then apply what trains (frozen blocks and embeddings, LoRA adapters, dropout off),
    so the weights digest recorded in the store covers the adapters' seeded initial values.
    """
    device = resolve_device(config.device)
    source = model_source(config)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[config.dtype]
    try:
        model_config = AutoConfig.from_pretrained(source.location, **source.options)
        tokenizer = _tokenizer(source, model_config.model_type)
    except OSError as error:
        raise ConfigError(f"cannot load model {config.name!r}: {error}") from error
    if config.disable_dropout:  # before building, so no module is made with dropout on
        zero_dropout_config(model_config)
    if config.pretrained:
        model = _from_pretrained(config, source, model_config, dtype)
    else:
        model = _build(config, model_config, dtype, seed)
    vocab_rows = model.get_input_embeddings().weight.shape[0]
    resized = config.resize_to_tokenizer and resize_to_tokenizer(model, tokenizer)
    apply_trainable(model, config, seed=seed)
    model.to(device)
    info = model_info(
        model,
        device,
        source=source.location,
        revision=str(source.revision or ""),
        commit=str(getattr(model.config, "_commit_hash", "") or ""),
        model_file=source.gguf_file or "",
        model_file_sha256=file_digest(Path(source.location) / source.gguf_file)
        if source.gguf_file
        else "",
        model_type=str(model.config.model_type),
        vocab_rows=f"{vocab_rows} -> {len(tokenizer)}" if resized else str(vocab_rows),
    )
    log.info("loaded %s (%s parameters) on %s", config.name, info["num_parameters"], device)
    return LoadedModel(model=model, tokenizer=tokenizer, device=device, info=info)

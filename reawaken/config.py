"""The run configuration: typed, validated, loadable from YAML presets and ``--set`` overrides.

Precedence: built-in defaults < preset < config file < ``--set key=value`` overrides. Every
problem is reported at once with the key's dotted path, before any model or data is loaded.
Paper symbols: T = ``data.num_docs``, C = ``data.context_length``, M =
``schedule.steps_per_doc``, E = ``schedule.num_epochs``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reawaken.errors import ConfigError

__all__ = [
    "RunConfig",
    "available_presets",
    "load_config",
    "parse_override",
    "preset_description",
]

BUILTIN_MODELS = ("builtin:tiny-neox",)
LOCAL_DATA_SUFFIXES = (".jsonl", ".json", ".txt")
SCIENTIFIC = re.compile(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Architecture(_Section):
    """Overrides of the model's architecture when it is built from its config (random init)."""

    hidden_size: int | None = Field(None, ge=8, description="width d")
    num_layers: int | None = Field(None, ge=1, description="number of transformer blocks")
    num_heads: int | None = Field(None, ge=1, description="attention heads")
    intermediate_size: int | None = Field(None, ge=8, description="MLP width (Pythia: 4d)")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> Architecture:
        if self.hidden_size and self.num_heads and self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}"
            )
        return self


class ModelConfig(_Section):
    name: str = Field(
        "builtin:tiny-neox",
        description="hub id (EleutherAI/pythia-1b), local directory, or builtin:tiny-neox",
    )
    revision: str = Field("main", description="hub revision, e.g. step0 for Pythia's init")
    pretrained: bool = Field(True, description="load weights; false builds from config")
    architecture: Architecture = Field(default_factory=Architecture)
    init_scheme: Literal["pythia", "default"] = Field(
        "pythia", description="init of config-built models: Pythia's rescaling or HF default"
    )
    dtype: Literal["float32", "bfloat16"] = "float32"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    autocast: Literal["none", "bf16"] = Field("none", description="bf16 autocast on CUDA")


class DataConfig(_Section):
    source: str = Field(
        "builtin",
        description="builtin corpus, a local .jsonl/.txt file or folder, or a Hugging Face "
        "dataset name such as cnn_dailymail",
    )
    dataset_config: str | None = Field(None, description="HF dataset config, e.g. 3.0.0")
    split: str = "train"
    text_field: str = Field("text", description="field holding the document text")
    num_docs: int = Field(10, ge=2, description="T, documents in the cycle")
    context_length: int = Field(128, ge=2, description="C, tokens per document (block size)")
    selection: Literal["random", "first"] = "random"
    sample_seed: int | None = Field(None, description="seed for drawing documents (default: seed)")


class ScheduleConfig(_Section):
    order: Literal["cyclic"] = "cyclic"
    steps_per_doc: int = Field(5, ge=1, description="M, gradient steps per document")
    num_epochs: int = Field(5, ge=1, description="E, passes over the documents")


class OptimizerConfig(_Section):
    name: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    reset_per_doc: bool = Field(True, description="fresh optimiser state for every document")


class EvaluationConfig(_Section):
    every: Literal["step", "doc"] = Field("step", description="evaluate all documents after")
    batch_size: int | None = Field(None, ge=1, description="documents per forward (default all)")
    chunk_tokens: int | None = Field(
        None, ge=1, description="tokens per unembedding chunk (default: ~64 MB of logits)"
    )


class ProbeConfig(_Section):
    snapshot_every: Literal["doc", "epoch", "never"] = "doc"
    activation_layers: tuple[int, ...] = Field(
        (-1,), description="hidden-state layers to store (-1 = final, after the last norm)"
    )
    weights: tuple[str, ...] = Field((), description="parameter names copied into `weight`")
    sketch_size: int = Field(256, ge=0, description="random-projection size (0 = off)")
    grad_sketch: bool = False


class CheckpointConfig(_Section):
    every: Literal["auto", "doc", "epoch", "never"] = Field(
        "auto", description="auto: every document below 100M parameters, else every epoch"
    )
    keep: int = Field(2, ge=1, description="newest checkpoints kept")


class RunConfig(_Section):
    """The whole configuration of one run (see the README for every key)."""

    seed: int = 0
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    probes: ProbeConfig = Field(default_factory=ProbeConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)

    def to_json(self) -> str:
        """The resolved configuration as the JSON stored in a run's attributes."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return build_config(json.loads(text))


def _presets_root() -> Path:
    return Path(str(resources.files("reawaken") / "presets"))


def available_presets() -> list[str]:
    """Names of the shipped presets (``default``, ``paper/pythia-1b``, ...), sorted.

    Examples
    --------
    >>> "default" in available_presets()
    True
    """
    root = _presets_root()
    names = (p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))
    return sorted(name for name in names if not name.startswith("sweeps/"))  # sweep files


def preset_path(name: str) -> Path:
    path = _presets_root() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown preset {name!r}; available presets: {', '.join(available_presets())}"
        )
    return path


def preset_description(name: str) -> str:
    """The first comment line of a preset file: what it runs."""
    for line in preset_path(name).read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} {path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping of config keys")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``key.path=value``; the value is read as YAML (numbers, booleans, lists).

    Examples
    --------
    >>> parse_override("schedule.steps_per_doc=10")
    (['schedule', 'steps_per_doc'], 10)
    >>> parse_override("model.name=EleutherAI/pythia-410m")
    (['model', 'name'], 'EleutherAI/pythia-410m')
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and SCIENTIFIC.fullmatch(value):
        value = float(value)  # YAML 1.1 reads 1e-4 as a string; users mean a number
    return key.strip().split("."), value


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(error: Mapping[str, Any], model: type[BaseModel]) -> str:
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        parent = model
        for part in error["loc"][:-1]:
            annotation = parent.model_fields[str(part)].annotation
            parent = annotation if isinstance(annotation, type) else parent
        allowed = ", ".join(parent.model_fields)
        return f"unknown config key '{location}'; allowed here: {allowed}"
    return f"config key '{location}': {error['msg']}, got {error.get('input')!r}"


def build_config(data: Mapping[str, Any]) -> RunConfig:
    """Validate a nested dict into a :class:`RunConfig`, reporting every problem at once."""
    try:
        config = RunConfig.model_validate(dict(data))
    except ValidationError as error:
        lines = [_describe(e, RunConfig) for e in error.errors()]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    _check_paths(config)
    return config


def _looks_local(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or Path(name).expanduser().exists()


def _check_paths(config: RunConfig) -> None:
    name = config.model.name
    if name.startswith("builtin:") and name not in BUILTIN_MODELS:
        raise ConfigError(
            f"config key 'model.name': unknown built-in model {name!r}; "
            f"built-in models: {', '.join(BUILTIN_MODELS)}"
        )
    if _looks_local(name) and not Path(name).expanduser().is_dir():
        raise ConfigError(
            f"config key 'model.name': local model directory {name!r} does not exist "
            "(give a folder written by save_pretrained, or a hub id like EleutherAI/pythia-70m)"
        )
    source = config.data.source
    local = source != "builtin" and (_looks_local(source) or source.endswith(LOCAL_DATA_SUFFIXES))
    if local and not Path(source).expanduser().exists():
        raise ConfigError(
            f"config key 'data.source': local corpus {source!r} does not exist "
            "(give a .jsonl/.txt file or a folder of .txt files)"
        )


def load_config(
    config_file: str | Path | None = None,
    *,
    preset: str | None = None,
    overrides: Iterable[str] = (),
    seed: int | None = None,
) -> RunConfig:
    """Resolve a run configuration from a preset, a YAML file and ``key=value`` overrides.

    Without a preset or file, the ``default`` preset (the CPU demo) is used.

    Examples
    --------
    >>> config = load_config(overrides=["schedule.steps_per_doc=3"])
    >>> config.schedule.steps_per_doc
    3
    """
    data: dict[str, Any] = {}
    if preset is not None or config_file is None:
        data = _read_yaml(preset_path(preset or "default"), "preset")
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        data = _merge(data, _read_yaml(path, "config file"))
    for text in overrides:
        keys, value = parse_override(text)
        nested: dict[str, Any] = {keys[-1]: value}
        for key in reversed(keys[:-1]):
            nested = {key: nested}
        data = _merge(data, nested)
    if seed is not None:
        data["seed"] = seed
    return build_config(data)

"""The run configuration: typed, validated, loadable from YAML presets and ``--set`` overrides.

Precedence: built-in defaults < preset < config file < ``--set key=value`` overrides. Every
problem is reported at once with the key's dotted path, before any model or data is loaded.
Paper symbols: T = ``data.num_docs``, C = ``data.context_length``, M =
``schedule.steps_per_doc``, E = ``schedule.num_epochs``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reawaken.errors import ConfigError

__all__ = [
    "RunConfig",
    "available_presets",
    "load_config",
    "parse_override",
    "preset_description",
    "shrink_for_smoke",
]

BUILTIN_MODELS = ("builtin:tiny-neox",)
#: ``data.source`` values that name a generated (not read) data set.
GENERATED_SOURCES = ("builtin", "synthetic_images")
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


class LoraConfig(_Section):
    """Low-rank adapters (LoRA, via ``peft``): only the adapters train, the base stays fixed."""

    rank: int = Field(8, ge=1, description="rank r of each adapter")
    alpha: float = Field(16.0, gt=0, description="scale numerator: updates are scaled alpha / r")
    target_modules: tuple[str, ...] | None = Field(
        None, description="module names to adapt (default: peft's choice for the model type)"
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the adapter input")


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
    disable_dropout: bool = Field(
        False, description="set every dropout probability to 0 (the paper's Image GPT runs)"
    )
    freeze_first_blocks: int = Field(0, ge=0, description="freeze the first N transformer blocks")
    freeze_last_blocks: int = Field(0, ge=0, description="freeze the last N transformer blocks")
    freeze_embeddings: bool = Field(
        False, description="freeze the input token (and position) embeddings"
    )
    lora: LoraConfig | None = Field(None, description="train LoRA adapters only (needs peft)")


class DataConfig(_Section):
    source: str = Field(
        "builtin",
        description="builtin corpus, synthetic_images, a local .jsonl/.txt file or folder, or "
        "a Hugging Face dataset name such as cnn_dailymail",
    )
    dataset_config: str | None = Field(None, description="HF dataset config, e.g. 3.0.0")
    split: str = "train"
    text_field: str = Field("text", description="field holding the document text")
    num_docs: int = Field(10, ge=2, description="T, documents in the cycle")
    context_length: int = Field(128, ge=2, description="C, tokens per document (block size)")
    selection: Literal["random", "first"] = "random"
    sample_seed: int | None = Field(None, description="seed for drawing documents (default: seed)")
    heldout_field: str | None = Field(
        None, description="second field of the same documents, evaluated into heldout_loss"
    )
    image_size: int = Field(32, ge=2, le=256, description="side of synthetic images in pixels")


class ScheduleConfig(_Section):
    order: Literal["cyclic", "shuffled", "fixed_permutation", "reversed"] = Field(
        "cyclic",
        description="cyclic; shuffled (new order every epoch); fixed_permutation (one seeded "
        "order every epoch); reversed (every other epoch backwards)",
    )
    fixed_prefix: int = Field(
        0, ge=0, description="the first K documents keep their places in every epoch"
    )
    shuffle_end: int | None = Field(
        None, ge=1, description="positions from here on keep their places (default: T)"
    )
    order_seed: int | None = Field(None, description="seed of the order (default: seed)")
    steps_per_doc: int = Field(5, ge=1, description="M, gradient steps per document")
    num_epochs: int = Field(5, ge=1, description="E, passes over the documents")

    def reordered_range(self, num_docs: int) -> tuple[int, int]:
        """Positions ``[start, end)`` that the order changes (the rest stay cyclic)."""
        return self.fixed_prefix, self.shuffle_end or num_docs


class OptimizerConfig(_Section):
    name: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    reset_per_doc: bool = Field(True, description="fresh optimiser state for every document")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="constant, or cosine decay to min_lr over the whole run"
    )
    min_lr: float = Field(0.0, ge=0, description="lr at the end of a cosine schedule")
    warmup_steps: int = Field(
        0, ge=0, description="linear warm-up length, in units of schedule_unit"
    )
    schedule_unit: Literal["step", "doc"] = Field(
        "step", description="the lr changes every gradient step, or once per document block"
    )

    @model_validator(mode="after")
    def _min_below_lr(self) -> OptimizerConfig:
        if self.min_lr > self.lr:
            raise ValueError(f"optimizer.min_lr {self.min_lr:g} must not exceed lr {self.lr:g}")
        return self


class NoiseConfig(_Section):
    """Perturbations of the training inputs (paper Fig. 4); evaluation stays clean."""

    mask_prob: float = Field(
        0.0, ge=0, lt=1, description="fraction p of input tokens replaced at every step"
    )
    mask_token: int | None = Field(
        None, ge=0, description="id written into masked inputs (default: the pad id, Pythia 0)"
    )
    window_size: int | None = Field(
        None, ge=2, description="tokens evaluated and trained per document (default C/2)"
    )
    window_shift: int | None = Field(
        None, ge=0, description="W: train on the centre window shifted by s ~ U{-W..W}"
    )

    @property
    def windowed(self) -> bool:
        return self.window_shift is not None or self.window_size is not None


class EvaluationConfig(_Section):
    every: Literal["step", "doc"] = Field("step", description="evaluate all documents after")
    batch_size: int | None = Field(None, ge=1, description="documents per forward (default all)")
    chunk_tokens: int | None = Field(
        None, ge=1, description="tokens per unembedding chunk (default: ~16 MB of logits)"
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
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    probes: ProbeConfig = Field(default_factory=ProbeConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)

    @model_validator(mode="after")
    def _fits_the_documents(self) -> RunConfig:
        """Checks that need two sections: order and window against T and C."""
        num_docs, context = self.data.num_docs, self.data.context_length
        schedule = self.schedule
        if schedule.fixed_prefix >= num_docs:
            raise ValueError(
                f"schedule.fixed_prefix {schedule.fixed_prefix} must be below data.num_docs "
                f"{num_docs}"
            )
        start, end = schedule.reordered_range(num_docs)
        if not start < end <= num_docs:
            raise ValueError(
                f"schedule.shuffle_end {end} must be above schedule.fixed_prefix {start} and "
                f"at most data.num_docs {num_docs}"
            )
        noise = self.noise
        if noise.windowed:
            window = self.window_size
            if window > context:
                raise ValueError(
                    f"noise.window_size {window} must not exceed data.context_length {context}"
                )
            room = (context - window) // 2
            if (noise.window_shift or 0) > room:
                raise ValueError(
                    f"noise.window_shift {noise.window_shift} must be at most "
                    f"(context_length - window_size) // 2 = {room}, so every shifted window "
                    "fits in the document"
                )
        optimizer = self.optimizer
        units = self.total_steps
        if optimizer.schedule_unit == "doc":
            units = schedule.num_epochs * num_docs
        if optimizer.warmup_steps > units:
            raise ValueError(
                f"optimizer.warmup_steps {optimizer.warmup_steps} exceeds the run's {units} "
                f"{optimizer.schedule_unit}s (optimizer.schedule_unit)"
            )
        return self

    @property
    def window_size(self) -> int:
        """Tokens per evaluated (and trained) window: ``noise.window_size`` or C/2."""
        return self.noise.window_size or self.data.context_length // 2

    @property
    def total_steps(self) -> int:
        """E * T * M gradient steps."""
        schedule = self.schedule
        return schedule.num_epochs * self.data.num_docs * schedule.steps_per_doc

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


def _section_type(annotation: Any) -> type[BaseModel] | None:
    """The config section class of a field (also inside ``Section | None``)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _describe(error: Mapping[str, Any], model: type[BaseModel]) -> str:
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        parent = model
        for part in error["loc"][:-1]:
            field = parent.model_fields.get(str(part))
            parent = (_section_type(field.annotation) if field else None) or parent
        allowed = ", ".join(parent.model_fields)
        return f"unknown config key '{location}'; allowed here: {allowed}"
    if error["type"] == "value_error":  # our own checks: the message names the keys
        message = str(error["msg"]).removeprefix("Value error, ")
        return f"config key '{location}': {message}" if location else message
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
    local = source not in GENERATED_SOURCES and (
        _looks_local(source) or source.endswith(LOCAL_DATA_SUFFIXES)
    )
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


# Sizes a smoke run shrinks to: enough to run every code path of a preset on a CPU in seconds.
SMOKE_LIMITS = {"num_docs": 4, "steps_per_doc": 2, "num_epochs": 2, "context_length": 32}
SMOKE_ARCHITECTURE = {"hidden_size": 32, "num_heads": 4, "intermediate_size": 64}


def shrink_for_smoke(
    config: RunConfig, *, model_name: str, data_source: str, num_layers: int
) -> RunConfig:
    """The same experiment, shrunk to check a preset on a CPU (``reawaken run --smoke``).

    A pure transformation: the model becomes ``model_name`` (a tiny local model of the same
    family with ``num_layers`` blocks), the data ``data_source`` (a local file with the same
    fields), T, M, E and C are capped at 4, 2, 2 and 32, the device is the CPU, and every
    setting that depends on those sizes (order range, window, frozen blocks, warm-up, probed
    layers) is clamped so it still applies. Everything else, the variant knobs above all, is
    kept.

    Examples
    --------
    >>> config = load_config(overrides=["data.num_docs=25", "schedule.steps_per_doc=10"])
    >>> small = shrink_for_smoke(config, model_name="builtin:tiny-neox", data_source="builtin",
    ...                          num_layers=2)
    >>> small.data.num_docs, small.schedule.steps_per_doc, small.model.device
    (4, 2, 'cpu')
    """
    data = config.data.model_dump()
    schedule = config.schedule.model_dump()
    model = config.model.model_dump()
    optimizer = config.optimizer.model_dump()
    noise = config.noise.model_dump()
    probes = config.probes.model_dump()

    num_docs = min(data["num_docs"], SMOKE_LIMITS["num_docs"])
    context = min(data["context_length"], SMOKE_LIMITS["context_length"])
    data.update(source=data_source, num_docs=num_docs, context_length=context)
    data.update(dataset_config=None, split="train", image_size=min(data["image_size"], 8))
    schedule["steps_per_doc"] = min(schedule["steps_per_doc"], SMOKE_LIMITS["steps_per_doc"])
    schedule["num_epochs"] = min(schedule["num_epochs"], SMOKE_LIMITS["num_epochs"])
    schedule["fixed_prefix"] = start = min(schedule["fixed_prefix"], num_docs - 1)
    if schedule["shuffle_end"] is not None:
        schedule["shuffle_end"] = max(min(schedule["shuffle_end"], num_docs), start + 1)

    architecture = model["architecture"]
    for key, limit in SMOKE_ARCHITECTURE.items():
        if architecture[key] is not None:
            architecture[key] = min(architecture[key], limit)
    if architecture["num_layers"] is not None:
        architecture["num_layers"] = num_layers
    if architecture["num_heads"] is not None:  # heads must divide the (smoke) width
        width = architecture["hidden_size"] or SMOKE_ARCHITECTURE["hidden_size"]
        architecture["num_heads"] = math.gcd(architecture["num_heads"], width)
    model.update(
        name=model_name,
        revision="main",
        device="cpu",
        dtype="float32",
        autocast="none",
        freeze_first_blocks=min(model["freeze_first_blocks"], max(num_layers // 2, 1)),
        freeze_last_blocks=min(model["freeze_last_blocks"], max(num_layers // 2, 1)),
    )
    if model["freeze_first_blocks"] + model["freeze_last_blocks"] > num_layers:
        model["freeze_last_blocks"] = num_layers - model["freeze_first_blocks"]

    if noise["window_size"] is not None:
        noise["window_size"] = max(2, min(noise["window_size"], context // 2))
    if noise["window_shift"] is not None:
        window = noise["window_size"] or context // 2
        noise["window_shift"] = min(noise["window_shift"], (context - window) // 2)
    units = schedule["num_epochs"] * num_docs
    if optimizer["schedule_unit"] == "step":
        units *= schedule["steps_per_doc"]
    optimizer["warmup_steps"] = min(optimizer["warmup_steps"], units // 2)

    layers = [min(layer, num_layers) for layer in probes["activation_layers"]]
    probes["activation_layers"] = list(dict.fromkeys(layers))
    probes["sketch_size"] = min(probes["sketch_size"], 64)
    return build_config(
        {
            **config.model_dump(),
            "model": model,
            "data": data,
            "schedule": schedule,
            "optimizer": optimizer,
            "noise": noise,
            "probes": probes,
        }
    )

"""Resolve a configuration: presets, YAML files and ``--set key=value`` overrides.

Precedence: built-in defaults (the paper's default setting) < preset < config file <
``--set key=value`` overrides. Without a preset, the built-in model starts from the CPU demo
preset and a named model from the paper's setting (:func:`reawaken.config.protocol.base_preset`).
Every problem is reported at once with the key's dotted path, before any model or data is
loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from reawaken.config.protocol import base_preset
from reawaken.config.sections import (
    BUILTIN_MODELS,
    GENERATED_SOURCES,
    LOCAL_DATA_SUFFIXES,
    TOY_MODELS,
    VISION_MODELS,
    RunConfig,
)
from reawaken.errors import ConfigError

__all__ = [
    "available_presets",
    "build_config",
    "load_config",
    "parse_override",
    "preset_description",
    "preset_path",
    "read_yaml_mapping",
]

SCIENTIFIC = re.compile(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+")


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


def read_yaml_mapping(path: Path, what: str, holds: str = "of config keys") -> dict[str, Any]:
    """The mapping in a YAML file; a :class:`ConfigError` naming ``what`` and ``path`` if the
    file is not YAML or not a mapping (``holds`` says what the mapping should contain).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "list.yaml"
    >>> _ = path.write_text("[1, 2]")
    >>> read_yaml_mapping(path, "preset")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    reawaken.errors.ConfigError: preset .../list.yaml must hold a mapping of config keys
    """
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} {path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping {holds}")
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
        joined = f" {lines[0]}" if len(lines) == 1 else "\n  " + "\n  ".join(lines)
        raise ConfigError(f"invalid configuration:{joined}") from None  # one problem, one line
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
    if name.startswith("toy:") and name not in TOY_MODELS:
        raise ConfigError(
            f"config key 'model.name': unknown toy model {name!r}; toy models: "
            f"{', '.join(TOY_MODELS)}"
        )
    if config.model.is_vision:
        _check_vision(config)
        return
    if name.endswith(".gguf"):
        return  # a file a preset may name before it is downloaded: checked when loaded
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


def _check_vision(config: RunConfig) -> None:
    """An image classifier's name and data source (the folder itself is read before the
    model loads: a preset names the usual place of a folder the user may not have yet)."""
    name, source = config.model.name, config.data.source
    if name not in VISION_MODELS:
        raise ConfigError(
            f"config key 'model.name': unknown image classifier {name!r}; image classifiers: "
            f"{', '.join(VISION_MODELS)}"
        )
    if source in GENERATED_SOURCES and source != "synthetic_images":
        raise ConfigError(
            f"config key 'data.source': an image classifier ({name}) reads images: give an "
            f"ImageNet-style folder (root/<class>/<image>) or synthetic_images, not {source!r}"
        )


def load_config(
    config_file: str | Path | None = None,
    *,
    preset: str | None = None,
    overrides: Iterable[str] = (),
    seed: int | None = None,
) -> RunConfig:
    """Resolve a run configuration from a preset, a YAML file and ``key=value`` overrides.

    Without a preset, the built-in model runs the ``default`` preset (the CPU demo) and a
    named model the paper's default setting, with its weights loaded unless
    ``model.pretrained=false`` is given.

    Examples
    --------
    >>> config = load_config(overrides=["schedule.steps_per_doc=3"])
    >>> config.schedule.steps_per_doc, config.optimizer.name
    (3, 'adam')
    >>> named = load_config(overrides=["model.name=EleutherAI/pythia-410m"])
    >>> named.model.pretrained, named.data.num_docs, named.optimizer.name
    (True, 25, 'sgd')
    """
    user: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        user = read_yaml_mapping(path, "config file")
    for text in overrides:
        keys, value = parse_override(text)
        nested: dict[str, Any] = {keys[-1]: value}
        for key in reversed(keys[:-1]):
            nested = {key: nested}
        user = _merge(user, nested)
    if seed is not None:
        user["seed"] = seed
    model = user.get("model")
    named = model.get("name") if isinstance(model, dict) else None
    base = base_preset(preset, None if named is None else str(named))
    data = read_yaml_mapping(preset_path(base), "preset") if base is not None else {}
    return build_config(_merge(data, user))

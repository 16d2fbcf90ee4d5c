"""Sweep files: the validated spec, loading a file or a shipped sweep by name, and expanding
the grid into named runs whose configs are all validated before anything runs.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from reawaken.config import RunConfig, load_config, read_yaml_mapping
from reawaken.errors import ConfigError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class SweepSpec(BaseModel):
    """A validated sweep file: base config, fixed overrides, grid and where runs go.

    Examples
    --------
    >>> spec = parse_sweep({"name": "lrs", "grid": {"optimizer.lr": [0.001, 0.01]}})
    >>> spec.out, spec.gpus_per_run
    ('runs/lrs', 0.0)
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(description="sweep name; runs go to runs/<name> unless `out` is given")
    base: str | None = Field(None, description="preset name or YAML config file (default: default)")
    fixed: dict[str, Any] = Field(
        default_factory=dict, alias="set", description="overrides shared by every run, dotted keys"
    )
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted key -> values; runs = product"
    )
    out: str = Field(
        "",
        validate_default=True,
        description="folder or fsspec URL (s3://bucket/runs); default runs/<name>",
    )
    gpus_per_run: float = Field(
        0.0,
        ge=0,
        validation_alias=AliasChoices("gpus_per_run", "num_gpus"),
        description="GPUs per run; a fraction (0.25) packs runs on one GPU",
    )
    cpus_per_run: float = Field(
        1.0,
        gt=0,
        validation_alias=AliasChoices("cpus_per_run", "num_cpus"),
        description="CPUs per run (Ray executor)",
    )
    gpu_resource: str = Field(
        "GPU", description="the Ray resource GPU shares are counted in (a custom one if set)"
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not SAFE_NAME.fullmatch(name):
            raise ValueError("must be a folder-safe name (letters, digits, '.', '_', '-')")
        return name

    @field_validator("gpus_per_run")
    @classmethod
    def _gpu_share(cls, share: float) -> float:
        if share > 1 and share != int(share):
            raise ValueError("above 1 it must be a whole number of GPUs (a run spans whole GPUs)")
        return share

    @field_validator("grid")
    @classmethod
    def _grid_values(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid key '{key}' has no values")
            texts = [json.dumps(v, sort_keys=True) for v in values]
            if len(set(texts)) < len(texts):
                raise ValueError(f"grid key '{key}' lists a value twice: {values}")
        return grid

    @field_validator("out")
    @classmethod
    def _default_out(cls, out: str, info: ValidationInfo) -> str:
        return out.rstrip("/") or f"runs/{info.data.get('name', 'sweep')}"

    def model_post_init(self, context: Any) -> None:
        both = sorted(set(_flatten(self.fixed)) & set(self.grid))
        if both:
            raise ConfigError(f"sweep keys {both} are in both 'set' and 'grid'; keep each in one")


@dataclass(frozen=True)
class SweepRun:
    """One point of the grid: its store name, its overrides and its validated config."""

    name: str
    overrides: tuple[str, ...]
    config: RunConfig


def _sweeps_root() -> Path:
    return Path(str(resources.files("reawaken") / "presets" / "sweeps"))


def available_sweeps() -> list[str]:
    """Names of the shipped sweep files (``reawaken sweep NAME`` runs one).

    Examples
    --------
    >>> "tiny-demo" in available_sweeps()
    True
    """
    return sorted(p.stem for p in _sweeps_root().glob("*.yaml"))


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def parse_sweep(data: Mapping[str, Any], folder: Path | None = None) -> SweepSpec:
    """Validate a sweep mapping; a relative ``base`` file is taken from ``folder``."""
    try:
        spec = SweepSpec.model_validate(dict(data))
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            key = ".".join(str(part) for part in problem["loc"])
            if problem["type"] == "extra_forbidden":
                allowed = "name, base, set, grid, out, gpus_per_run, cpus_per_run, gpu_resource"
                lines.append(f"unknown sweep key '{key}'; allowed: {allowed}")
            else:
                hint = (
                    " (grid values are lists; put single values under 'set')"
                    if (key.startswith("grid.") and problem["type"] == "list_type")
                    else ""
                )
                lines.append(
                    f"sweep key '{key}': {problem['msg']}, got {problem.get('input')!r}" + hint
                )
        raise ConfigError("invalid sweep:\n  " + "\n  ".join(lines)) from None
    if spec.base and spec.base.endswith((".yaml", ".yml")) and folder is not None:
        spec = spec.model_copy(update={"base": str((folder / spec.base).resolve())})
    return spec


def load_sweep(path_or_name: str | Path) -> SweepSpec:
    """Read a sweep file, or a shipped sweep by name (``tiny-demo``, ``model-sizes``).

    Examples
    --------
    >>> load_sweep("tiny-demo").grid["seed"]
    [0, 1]
    """
    path = Path(path_or_name)
    if not path.is_file():
        shipped = _sweeps_root() / f"{path_or_name}.yaml"
        if not shipped.is_file():
            raise ConfigError(
                f"sweep file {path} does not exist; shipped sweeps: {', '.join(available_sweeps())}"
            )
        path = shipped
    data = read_yaml_mapping(path, "sweep file", holds="(name, base, set, grid, ...)")
    return parse_sweep(data, path.parent)


def _override(key: str, value: Any) -> str:
    """``key=value`` that :func:`reawaken.config.parse_override` reads back as ``value``."""
    if isinstance(value, str) and yaml.safe_load(value) == value:
        return f"{key}={value}"
    return f"{key}={json.dumps(value)}"


def _label(key: str, value: Any, *, full: bool) -> str:
    if isinstance(value, str):
        text = value if full else value.rstrip("/").rsplit("/", 1)[-1]
        return UNSAFE_CHARS.sub("-", text).strip("-.") or "x"
    items = value if isinstance(value, list | tuple) else [value]
    text = "-".join(json.dumps(v) if not isinstance(v, float) else repr(v) for v in items)
    name = key if full else key.rsplit(".", 1)[-1]
    return UNSAFE_CHARS.sub("-", name + ("-" if text[:1].isalpha() else "") + text)


def _run_names(spec: SweepSpec, points: list[tuple[Any, ...]]) -> list[str]:
    """Readable names (``pythia-160m_seed1``), qualified, then numbered, where they clash."""
    if not spec.grid:
        return [spec.name]
    for full in (False, True):
        names = [
            "_".join(_label(k, v, full=full) for k, v in zip(spec.grid, point, strict=True))
            for point in points
        ]
        if len(set(names)) == len(names):
            return names
    return [f"{name}_{index}" for index, name in enumerate(names)]


def _base_args(spec: SweepSpec) -> tuple[str | None, str | None]:
    """(config file, preset) for :func:`load_config` and ``reawaken run``."""
    if spec.base and spec.base.endswith((".yaml", ".yml")):
        return spec.base, None
    return None, spec.base


def expand(spec: SweepSpec) -> list[SweepRun]:
    """The sweep's runs (grid product, first key slowest), every config validated up front.

    Examples
    --------
    >>> spec = parse_sweep({"name": "s", "grid": {"optimizer.lr": [0.001, 0.01], "seed": [0, 1]}})
    >>> [run.name for run in expand(spec)]
    ['lr0.001_seed0', 'lr0.001_seed1', 'lr0.01_seed0', 'lr0.01_seed1']
    >>> expand(spec)[1].overrides
    ('optimizer.lr=0.001', 'seed=1')
    """
    fixed = tuple(_override(k, v) for k, v in _flatten(spec.fixed).items())
    points = list(itertools.product(*spec.grid.values()))
    config_file, preset = _base_args(spec)
    runs: list[SweepRun] = []
    problems: dict[str, list[str]] = {}
    for name, point in zip(_run_names(spec, points), points, strict=True):
        overrides = fixed + tuple(_override(k, v) for k, v in zip(spec.grid, point, strict=True))
        try:
            config = load_config(config_file, preset=preset, overrides=overrides)
        except ConfigError as error:
            problems.setdefault(str(error), []).append(name)
            continue
        runs.append(SweepRun(name, overrides, config))
    if problems:
        lines = [f"run {', '.join(names)}: {message}" for message, names in problems.items()]
        raise ConfigError(
            f"sweep {spec.name!r} has invalid runs (nothing was run):\n" + "\n".join(lines)
        )
    return runs


def describe_runs(spec: SweepSpec, runs: Iterable[SweepRun]) -> str:
    """The base, the shared overrides, and each run's own (``reawaken sweep --dry-run``).

    Examples
    --------
    >>> spec = parse_sweep({"name": "s", "set": {"schedule.num_epochs": 2}, "grid": {"seed": [0]}})
    >>> print(describe_runs(spec, expand(spec)))
    sweep s: 1 runs of base 'default' -> runs/s
    every run: schedule.num_epochs=2
      seed0: seed=0
    """
    runs = list(runs)
    shared = len(_flatten(spec.fixed))
    lines = [
        f"sweep {spec.name}: {len(runs)} runs of base {spec.base or 'default'!r} -> {spec.out}"
    ]
    if shared and runs:
        lines.append(f"every run: {' '.join(runs[0].overrides[:shared])}")
    lines += [f"  {run.name}: {' '.join(run.overrides[shared:]) or '(base)'}" for run in runs]
    return "\n".join(lines)

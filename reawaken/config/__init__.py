"""The run configuration: typed, validated, loadable from YAML presets and ``--set`` overrides.

Precedence: built-in defaults < preset < config file < ``--set key=value`` overrides. Every
problem is reported at once with the key's dotted path, before any model or data is loaded.
Paper symbols: T = ``data.num_docs``, C = ``data.context_length``, M =
``schedule.steps_per_doc``, E = ``schedule.num_epochs``.
"""

from __future__ import annotations

from reawaken.config.loading import (
    available_presets,
    build_config,
    load_config,
    parse_override,
    preset_description,
    preset_path,
    read_yaml_mapping,
)
from reawaken.config.sections import (
    BUILTIN_MODELS,
    GENERATED_SOURCES,
    LOCAL_DATA_SUFFIXES,
    TOY_MODELS,
    VISION_MODELS,
    Architecture,
    CheckpointConfig,
    DataConfig,
    EvaluationConfig,
    LoraConfig,
    ModelConfig,
    NoiseConfig,
    OptimizerConfig,
    ProbeConfig,
    RunConfig,
    ScheduleConfig,
    ToyConfig,
    VisionConfig,
    stored_total_steps,
)
from reawaken.config.smoke import shrink_for_smoke

__all__ = [
    "BUILTIN_MODELS",
    "GENERATED_SOURCES",
    "LOCAL_DATA_SUFFIXES",
    "TOY_MODELS",
    "VISION_MODELS",
    "Architecture",
    "CheckpointConfig",
    "DataConfig",
    "EvaluationConfig",
    "LoraConfig",
    "ModelConfig",
    "NoiseConfig",
    "OptimizerConfig",
    "ProbeConfig",
    "RunConfig",
    "ScheduleConfig",
    "ToyConfig",
    "VisionConfig",
    "available_presets",
    "build_config",
    "load_config",
    "parse_override",
    "preset_description",
    "preset_path",
    "read_yaml_mapping",
    "shrink_for_smoke",
    "stored_total_steps",
]

"""Which setting a run starts from, and how it departs from the paper's default setting.

The paper's default setting (T=25, C=256, M=10, E=5, SGD at lr 1e-3, all documents evaluated
after each document, pretrained weights) is the defaults of the config sections; the CPU demo's
smaller setting is the ``default`` preset and belongs to the built-in model only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reawaken.config.sections import RunConfig, is_builtin

__all__ = ["PROTOCOL_KEYS", "base_preset", "departures", "paper_setting", "protocol_line"]

#: The keys that make up a run's protocol, in the order the protocol line names them.
PROTOCOL_KEYS = (
    "model.pretrained",
    "model.resize_to_tokenizer",
    "data.source",
    "data.num_docs",
    "data.context_length",
    "schedule.order",
    "schedule.one_offs",
    "schedule.steps_per_doc",
    "schedule.num_epochs",
    "optimizer.name",
    "optimizer.lr",
    "optimizer.momentum",
    "optimizer.weight_decay",
    "optimizer.reset_per_doc",
    "optimizer.lr_schedule",
    "optimizer.clip_grad_norm",
    "evaluation.every",
    "noise.mask_prob",
    "noise.window_shift",
)
# The one value of the paper's setting that is not a default: the data are offline by default.
PAPER_DATA_SOURCE = "cnn_dailymail"


def _get(tree: Mapping[str, Any], key: str) -> Any:
    for part in key.split("."):
        tree = tree[part]
    return tree


def paper_setting() -> dict[str, Any]:
    """The paper's default setting, key by key (``PROTOCOL_KEYS``).

    Examples
    --------
    >>> setting = paper_setting()
    >>> setting["data.num_docs"], setting["schedule.steps_per_doc"], setting["optimizer.name"]
    (25, 10, 'sgd')
    """
    defaults = RunConfig(model={"name": "EleutherAI/pythia-1b"}).model_dump()
    setting = {key: _get(defaults, key) for key in PROTOCOL_KEYS}
    setting["data.source"] = PAPER_DATA_SOURCE
    return setting


def base_preset(preset: str | None, model_name: str | None) -> str | None:
    """The preset a run starts from: the one named, else the demo for the built-in model.

    A named model (hub id, local folder, ``.gguf`` file) without a preset starts from the
    paper's default setting (no preset: the section defaults); the CPU demo's settings
    (``default``) belong to the built-in model only.

    Examples
    --------
    >>> base_preset(None, None), base_preset(None, "builtin:tiny-neox")
    ('default', 'default')
    >>> base_preset(None, "EleutherAI/pythia-410m") is None
    True
    >>> base_preset("paper/pythia-1b", "EleutherAI/pythia-410m")
    'paper/pythia-1b'
    """
    if preset is not None:
        return preset
    return "default" if model_name is None or is_builtin(model_name) else None


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) or value is None else str(value)


def departures(config: RunConfig) -> list[str]:
    """``key=value (paper: value)`` for each protocol key that differs from the paper's setting.

    Examples
    --------
    >>> config = RunConfig(model={"name": "x"}, data={"source": "cnn_dailymail", "num_docs": 10})
    >>> departures(config)
    ['data.num_docs=10 (paper: 25)']
    """
    values = config.model_dump()
    return [
        f"{key}={_show(_get(values, key))} (paper: {_show(paper)})"
        for key, paper in paper_setting().items()
        if _get(values, key) != paper
    ]


def protocol_line(config: RunConfig) -> str:
    """One line saying what a run does and where it departs from the paper's default setting.

    Examples
    --------
    >>> config = RunConfig(model={"name": "x"}, data={"source": "cnn_dailymail"})
    >>> print(protocol_line(config))  # doctest: +NORMALIZE_WHITESPACE
    protocol: cyclic, T=25 C=256 M=10 E=5, sgd lr=0.001, evaluated every doc, pretrained x;
    the paper's default setting
    """
    data, schedule, optimizer = config.data, config.schedule, config.optimizer
    weights = "pretrained" if config.model.pretrained else "random-init"
    one_offs = ""
    if schedule.one_offs is not None:
        one_offs = f" + {schedule.one_offs[0]}..{schedule.one_offs[1]} one-offs per epoch"
    line = (
        f"protocol: {schedule.order}{one_offs}, T={data.num_docs} C={data.context_length} "
        f"M={schedule.steps_per_doc} E={schedule.num_epochs}, {optimizer.name} "
        f"lr={optimizer.lr:g}, evaluated every {config.evaluation.every}, "
        f"{weights} {config.model.name}"
    )
    different = departures(config)
    if not different:
        return f"{line}; the paper's default setting"
    return f"{line}; departs from the paper's default setting in: {', '.join(different)}"

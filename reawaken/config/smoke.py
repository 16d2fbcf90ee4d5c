"""The pure part of ``reawaken run --smoke``: a preset's config shrunk to run on a CPU."""

from __future__ import annotations

import math

from reawaken.config.loading import build_config
from reawaken.config.sections import RunConfig

__all__ = ["shrink_for_smoke"]

# Sizes a smoke run shrinks to: enough to run every code path of a preset on a CPU in seconds.
SMOKE_LIMITS = {"num_docs": 4, "steps_per_doc": 2, "num_epochs": 2, "context_length": 32}
#: ``schedule.one_offs`` of a smoke run is capped at this range of fresh documents per epoch.
SMOKE_ONE_OFFS = (1, 3)
SMOKE_ARCHITECTURE = {"hidden_size": 32, "num_heads": 4, "intermediate_size": 64}
SMOKE_TOY_SIZE = 16  # N and M of the toy model
#: Image classifiers: 4 images per batch, 32-pixel crops of 36-pixel images, widths / 16.
SMOKE_VISION = {"images_per_doc": 4, "crop_size": 32, "resize_size": 36, "width_divisor": 16}


def shrink_for_smoke(
    config: RunConfig, *, model_name: str, data_source: str, num_layers: int
) -> RunConfig:
    """The same experiment, shrunk to check a preset on a CPU (``reawaken run --smoke``).

    A pure transformation: the model becomes ``model_name`` (a tiny local model of the same
    family with ``num_layers`` blocks), the data ``data_source`` (a local file with the same
    fields), T, M, E and C are capped at 4, 2, 2 and 32 (and one-off documents at 1..3 per
    epoch), the device is the CPU, and every
    setting that depends on those sizes (order range, window, frozen blocks, warm-up, probed
    layers) is clamped so it still applies. Everything else, the variant knobs above all, is
    kept.

    Examples
    --------
    >>> from reawaken.config import load_config
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
    data["images_per_doc"] = min(data["images_per_doc"], SMOKE_VISION["images_per_doc"])
    schedule["steps_per_doc"] = min(schedule["steps_per_doc"], SMOKE_LIMITS["steps_per_doc"])
    schedule["num_epochs"] = min(schedule["num_epochs"], SMOKE_LIMITS["num_epochs"])
    schedule["fixed_prefix"] = start = min(schedule["fixed_prefix"], num_docs - 1)
    if schedule["shuffle_end"] is not None:
        schedule["shuffle_end"] = max(min(schedule["shuffle_end"], num_docs), start + 1)
    if schedule["one_offs"] is not None:  # still fresh documents, still varying in number
        low, high = schedule["one_offs"]
        schedule["one_offs"] = (min(low, SMOKE_ONE_OFFS[0]), min(high, SMOKE_ONE_OFFS[1]))

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
    toy = model["toy"]
    toy.update(
        input_size=min(toy["input_size"], SMOKE_TOY_SIZE),
        embedding_size=min(toy["embedding_size"], SMOKE_TOY_SIZE),
    )
    vision = model["vision"]
    vision.update(
        crop_size=min(vision["crop_size"], SMOKE_VISION["crop_size"]),
        resize_size=min(vision["resize_size"], SMOKE_VISION["resize_size"]),
        width_divisor=max(vision["width_divisor"], SMOKE_VISION["width_divisor"]),
    )
    if model["freeze_first_blocks"] + model["freeze_last_blocks"] > num_layers:
        model["freeze_last_blocks"] = num_layers - model["freeze_first_blocks"]

    if noise["window_size"] is not None:
        noise["window_size"] = max(2, min(noise["window_size"], context // 2))
    if noise["window_shift"] is not None:
        window = noise["window_size"] or context // 2
        noise["window_shift"] = min(noise["window_shift"], (context - window) // 2)
    units = schedule["num_epochs"] * num_docs  # a lower bound with one-off documents
    if optimizer["schedule_unit"] == "step":
        units *= schedule["steps_per_doc"]
    optimizer["warmup_steps"] = min(optimizer["warmup_steps"], units // 2)

    checkpoint = config.checkpoint.model_dump()
    epochs = {min(e, schedule["num_epochs"]) for e in checkpoint["keep_epochs"]}
    checkpoint["keep_epochs"] = sorted(epochs)

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
            "checkpoint": checkpoint,
        }
    )

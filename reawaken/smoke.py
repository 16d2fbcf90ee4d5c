"""``reawaken run --smoke``: check a preset on a CPU in seconds, offline, before a GPU job.

The run keeps every knob of the preset (order, noise, freezing, LoRA, lr schedule, held-out
field, probes) but swaps the model for a tiny local one of the same family and the data for a
local file with the same fields, and shrinks T, M, E and C (see
:func:`reawaken.config.shrink_for_smoke`). It sits beside the CLI: it needs the models layer
to build the stand-in, which the config layer may not import.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import torch
from transformers import AutoConfig

from reawaken.config import RunConfig, build_config, shrink_for_smoke
from reawaken.data import builtin_corpus_path
from reawaken.models import model_family, smoke_model_dir
from reawaken.models.classifiers import build_classifier
from reawaken.models.tiny import cache_root

__all__ = ["smoke_classifier_weights", "smoke_config", "smoke_corpus", "smoke_wikitext"]

SMOKE_DOCS = 16  # records in the smoke corpus: more than the 4 a smoke run draws


def smoke_corpus(text_field: str, heldout_field: str | None) -> Path:
    """A JSONL file with ``id``, ``text_field`` and ``heldout_field`` from the bundled corpus.

    The held-out text is each document's first paragraph (like a summary of it).
    """
    fields = "-".join(f for f in (text_field, heldout_field) if f)
    target = cache_root() / "smoke" / f"corpus-v1-{fields}.jsonl"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = builtin_corpus_path().read_text().splitlines()[:SMOKE_DOCS]
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    with staging.open("w") as out:
        for line in lines:
            record = json.loads(line)
            row = {"id": record["id"], text_field: record["text"]}
            if heldout_field:
                row[heldout_field] = record["text"].split("\n\n", 1)[0]
            out.write(json.dumps(row) + "\n")
    os.replace(staging, target)  # atomic: a concurrent smoke run sees all or nothing
    return target


def smoke_wikitext() -> Path:
    """A text file in wikitext's line format: each bundled document as an article.

    Every article has a `` = Title = `` heading, a `` = = Section = = `` heading and its
    paragraphs as single lines, so the smoke run splits articles as on wikitext-103.
    """
    target = cache_root() / "smoke" / "wikitext-v1.txt"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    with staging.open("w") as out:
        for line in builtin_corpus_path().read_text().splitlines()[:SMOKE_DOCS]:
            record = json.loads(line)
            paragraphs = [" ".join(p.split()) for p in record["text"].split("\n\n")]
            out.write(f" = {record['id']} = \n \n = = Description = = \n \n")
            out.writelines(f" {p} \n" for p in paragraphs if p)
            out.write(" \n")
    os.replace(staging, target)
    return target


def smoke_classifier_weights(config: RunConfig) -> Path:
    """A file with the seeded random-init weights of ``config``'s (tiny) classifier.

    The smoke run loads it as it would load torchvision's file, so ``--smoke`` takes the
    pretrained loading path of ``paper/image-classification``.
    """
    model, vision = config.model, config.model.vision
    name = model.name.removeprefix("torchvision:")
    shape = f"w{vision.width_divisor}-c{vision.crop_size}-k{vision.num_classes}"
    target = cache_root() / "smoke" / f"{name}-{shape}-v1.pt"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    torch.save(build_classifier(model).state_dict(), staging)
    os.replace(staging, target)  # atomic: a concurrent smoke run sees all or nothing
    return target


def _smoke_classifier(config: RunConfig) -> RunConfig:
    """A tiny classifier of the same family (widths / 16, 32-pixel crops) on synthetic images."""
    with torch.device("meta"):  # only its depth is needed here
        num_layers = build_classifier(config.model).num_layers
    small = shrink_for_smoke(
        config, model_name=config.model.name, data_source="synthetic_images", num_layers=num_layers
    )
    if not small.model.pretrained:
        return small
    tree = small.model_dump()
    tree["model"]["vision"]["weights"] = str(smoke_classifier_weights(small))
    return build_config(tree)


def smoke_config(config: RunConfig) -> RunConfig:
    """``config`` on a tiny model of the same family, local data, small T/M/E/C, CPU.

    Examples
    --------
    >>> from reawaken.config import load_config
    >>> config = smoke_config(load_config(preset="default"))
    >>> config.model.name.endswith("smoke-gpt_neox-v1"), config.data.num_docs
    (True, 4)
    """
    data = config.data
    if config.model.is_toy:  # already tiny and generated: only T, E and the sizes shrink
        return shrink_for_smoke(
            config, model_name=config.model.name, data_source=data.source, num_layers=0
        )
    if config.model.is_vision:
        return _smoke_classifier(config)
    model_dir = smoke_model_dir(model_family(config.model.name))
    if data.source == "synthetic_images":
        source = data.source
    elif data.documents == "wikitext_articles":
        source = str(smoke_wikitext())
    else:
        source = str(smoke_corpus(data.text_field, data.heldout_field))
    num_layers = AutoConfig.from_pretrained(model_dir).num_hidden_layers
    return shrink_for_smoke(
        config, model_name=str(model_dir), data_source=source, num_layers=num_layers
    )

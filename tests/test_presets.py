"""Every shipped preset runs: ``reawaken run --preset NAME --smoke`` on a CPU, offline."""

from __future__ import annotations

import importlib.util
import json
import re
import time
from importlib import resources
from pathlib import Path

import pytest

import reawaken
from reawaken.cli import main
from reawaken.config import available_presets, load_config, preset_description
from reawaken.schedule import training_order
from reawaken.smoke import smoke_config

PRESETS_ROOT = Path(str(resources.files("reawaken") / "presets"))
# Found on disk, recursively, without the sweep files: the test's own count, not the package's.
PRESETS = sorted(
    path.relative_to(PRESETS_ROOT).with_suffix("").as_posix()
    for path in PRESETS_ROOT.rglob("*.yaml")
    if "sweeps" not in path.relative_to(PRESETS_ROOT).parts
)
HAVE_PEFT = importlib.util.find_spec("peft") is not None  # LoRA's optional dependency
# default + 29 paper experiments + 4 extensions + 2 real-model CPU runs; change it when
# adding a preset.
EXPECTED_PRESETS = 36
# Keys a smoke run must keep: the variant the preset is about.
KEPT = {
    "model": ("pretrained", "init_scheme", "lora", "disable_dropout", "freeze_embeddings"),
    "data": ("text_field", "heldout_field", "selection", "documents"),
    "schedule": ("order",),
    "optimizer": ("name", "lr", "reset_per_doc", "lr_schedule", "min_lr", "schedule_unit"),
    "noise": ("mask_prob", "mask_token"),
    "evaluation": ("every",),
    "probes": ("snapshot_every", "weights", "grad_sketch"),
}


def test_every_preset_on_disk_is_listed_and_counted() -> None:
    assert len(PRESETS) == EXPECTED_PRESETS, PRESETS
    assert available_presets() == PRESETS


@pytest.mark.parametrize("name", [p for p in PRESETS if p != "default"])
def test_preset_header_names_figure_command_and_gpu_time(name: str) -> None:
    lines = (PRESETS_ROOT / f"{name}.yaml").read_text().splitlines()
    assert lines[0].startswith("# ") and preset_description(name) == lines[0][2:]
    assert lines[1].startswith("# Reproduces: ")
    assert re.match(rf"# Command: reawaken run --preset {re.escape(name)}( |$)", lines[2])
    assert lines[3].startswith("# GPU time: ")


def test_smoke_keeps_the_variant_and_shrinks_the_rest() -> None:
    for name in PRESETS:
        config = load_config(preset=name)
        small = smoke_config(config)
        full, shrunk = json.loads(config.to_json()), json.loads(small.to_json())
        for section, keys in KEPT.items():
            for key in keys:
                assert shrunk[section][key] == full[section][key], f"{name}: {section}.{key}"
        assert small.data.num_docs == min(config.data.num_docs, 4)
        assert small.schedule.steps_per_doc <= 2 and small.data.context_length <= 32
        local = Path(small.model.name).is_dir() or small.model.is_toy  # the toy has no folder
        if small.model.is_vision:  # a classifier's stand-in is a local weights file
            local = not small.model.pretrained or Path(str(small.model.vision.weights)).is_file()
        assert small.model.device == "cpu" and local


def test_every_preset_runs_with_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    runnable = [p for p in PRESETS if HAVE_PEFT or load_config(preset=p).model.lora is None]
    assert len(PRESETS) - len(runnable) <= 1  # only extra/lora needs the optional peft
    for name in runnable:
        store_name = name.replace("/", "-")
        status = main(
            [
                "run",
                "--preset",
                name,
                "--smoke",
                "--out",
                str(tmp_path),
                "--name",
                store_name,
                "--quiet",
            ]
        )
        output = capsys.readouterr()
        assert status == 0, f"{name}: {output.err[-2000:]}"
        ds = reawaken.open_run(tmp_path / f"{store_name}.zarr")
        assert ds.attrs["status"] == "completed" and ds.attrs["preset"] == name
        assert ds.sizes["doc"] <= 4
    assert len(list(tmp_path.glob("*.zarr"))) == len(runnable)
    print(f"{len(runnable)} smoke runs in {time.perf_counter() - started:.0f} s")


def test_smoke_run_trains_in_the_presets_order(tmp_path: Path) -> None:
    name = "paper/prequential-shuffled"
    arguments = ["--out", str(tmp_path), "--name", "s", "--quiet", "--seed", "3"]
    assert main(["run", "--preset", name, "--smoke", *arguments]) == 0
    ds = reawaken.open_run(tmp_path / "s.zarr")
    config = smoke_config(load_config(preset=name, seed=3))
    starts = ds.grad_step.values == 0
    order = ds.trained_doc.values[starts].reshape(config.schedule.num_epochs, -1)
    assert order.tolist() == training_order(config.schedule, 4, seed=3).tolist()
    assert (order[:, 0] == 0).all() and sorted(order[1].tolist()) == [0, 1, 2, 3]

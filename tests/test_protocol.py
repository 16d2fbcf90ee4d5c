"""Which setting a run starts from: named models run the paper's protocol, pretrained."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reawaken.cli import main
from reawaken.config import load_config
from reawaken.config.protocol import departures, paper_setting, protocol_line
from reawaken.errors import ConfigError

PAPER = {
    "model.pretrained": True,
    "model.resize_to_tokenizer": True,
    "data.source": "cnn_dailymail",
    "data.num_docs": 25,
    "data.context_length": 256,
    "schedule.order": "cyclic",
    "schedule.one_offs": None,  # no one-off documents
    "schedule.steps_per_doc": 10,
    "schedule.num_epochs": 5,
    "optimizer.name": "sgd",
    "optimizer.lr": 1e-3,
    "optimizer.momentum": 0.0,
    "optimizer.weight_decay": 0.0,
    "optimizer.reset_per_doc": False,
    "optimizer.lr_schedule": "constant",
    "optimizer.clip_grad_norm": None,
    "evaluation.every": "doc",
    "noise.mask_prob": 0.0,
    "noise.window_shift": None,
}


def _protocol(config: object) -> tuple:
    data, schedule, optimizer = config.data, config.schedule, config.optimizer
    return (
        config.model.pretrained,
        data.num_docs,
        data.context_length,
        schedule.steps_per_doc,
        schedule.num_epochs,
        optimizer.name,
        optimizer.lr,
        optimizer.reset_per_doc,
        config.evaluation.every,
    )


def test_the_paper_setting_is_the_defaults() -> None:
    assert paper_setting() == PAPER


@pytest.mark.parametrize(
    "name", ["EleutherAI/pythia-410m", "/some/where/SmolLM2-135M-Instruct.Q4_1.gguf"]
)
def test_a_named_model_runs_the_paper_setting_pretrained(name: str) -> None:
    config = load_config(overrides=[f"model.name={name}"])
    assert _protocol(config) == (True, 25, 256, 10, 5, "sgd", 1e-3, False, "doc")
    assert config.model.resize_to_tokenizer is True
    assert departures(config) == ["data.source=builtin (paper: cnn_dailymail)"]


def test_only_an_explicit_pretrained_false_builds_a_named_model_from_config() -> None:
    config = load_config(overrides=["model.name=EleutherAI/pythia-70m", "model.pretrained=false"])
    assert config.model.pretrained is False
    assert "model.pretrained=false (paper: true)" in departures(config)


def test_the_builtin_model_runs_the_demo_without_weights() -> None:
    for overrides in ([], ["model.name=builtin:tiny-neox"]):
        config = load_config(overrides=overrides)
        assert _protocol(config) == (False, 10, 128, 5, 5, "adam", 1e-3, True, "step")


def test_a_named_preset_is_kept_and_pretrained_follows_the_name() -> None:
    config = load_config(
        preset="paper/scratch-architecture", overrides=["model.name=EleutherAI/pythia-70m"]
    )
    assert config.model.pretrained is False  # the preset says so explicitly
    demo = load_config(preset="default", overrides=["model.name=EleutherAI/pythia-70m"])
    assert _protocol(demo) == (True, 10, 128, 5, 5, "adam", 1e-3, True, "step")


def test_a_config_file_naming_a_model_starts_from_the_paper_setting(tmp_path: Path) -> None:
    file = tmp_path / "mine.yaml"
    file.write_text("model:\n  name: EleutherAI/pythia-160m\nschedule:\n  num_epochs: 3\n")
    config = load_config(file)
    assert _protocol(config) == (True, 25, 256, 10, 3, "sgd", 1e-3, False, "doc")


def test_protocol_line_names_every_departure() -> None:
    line = protocol_line(load_config())
    assert line.startswith(
        "protocol: cyclic, T=10 C=128 M=5 E=5, adam lr=0.001, evaluated every step, "
        "random-init builtin:tiny-neox; departs from the paper's default setting in: "
    )
    assert line.endswith(
        "model.pretrained=false (paper: true), data.source=builtin (paper: cnn_dailymail), "
        "data.num_docs=10 (paper: 25), data.context_length=128 (paper: 256), "
        "schedule.steps_per_doc=5 (paper: 10), optimizer.name=adam (paper: sgd), "
        "optimizer.reset_per_doc=true (paper: false), evaluation.every=step (paper: doc)"
    )


def test_print_config_prints_the_resolved_yaml_without_loading_a_model(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("--print-config loaded a model")

    monkeypatch.setattr("reawaken.train.workload.load_model", no_loading)
    arguments = ["--set", "model.name=missing.gguf", "--threads", "3", "--out", str(tmp_path)]
    assert main(["run", *arguments, "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    expected = load_config(overrides=["model.name=missing.gguf", "threads=3"])
    assert printed == expected.model_dump(mode="json")
    assert printed["threads"] == 3 and printed["model"]["pretrained"] is True
    assert not list(tmp_path.iterdir())


def test_a_missing_gguf_file_is_named_before_anything_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status = main(["run", "--set", "model.name=nowhere/m.gguf", "--out", str(tmp_path / "r")])
    assert status == 2
    assert "GGUF file 'nowhere/m.gguf' does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_threads_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="config key 'threads'"):
        load_config(overrides=["threads=0"])

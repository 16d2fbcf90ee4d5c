"""Configuration: presets, overrides and the errors that name the key (before any work)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reawaken.cli import main
from reawaken.config import available_presets, load_config, parse_override, preset_description
from reawaken.errors import ConfigError


def test_default_preset_is_the_cpu_demo() -> None:
    config = load_config()
    assert config.model.name == "builtin:tiny-neox"
    assert (config.data.num_docs, config.schedule.steps_per_doc) == (10, 5)
    assert "default" in available_presets()
    assert "CPU demo" in preset_description("default")


def test_precedence_defaults_preset_file_overrides(tmp_path: Path) -> None:
    file = tmp_path / "run.yaml"
    file.write_text("schedule:\n  steps_per_doc: 7\n  num_epochs: 3\n")
    config = load_config(file, overrides=["schedule.num_epochs=4"], seed=9)
    assert (config.schedule.steps_per_doc, config.schedule.num_epochs, config.seed) == (7, 4, 9)
    assert config.model.name == "builtin:tiny-neox"  # a file alone starts from the defaults


def test_config_round_trips_through_json() -> None:
    config = load_config(overrides=["probes.activation_layers=[0,-1]"])
    assert type(config).from_json(config.to_json()) == config


def test_override_values_are_read_as_yaml() -> None:
    assert parse_override("optimizer.lr=1e-4") == (["optimizer", "lr"], 1e-4)
    assert parse_override("probes.weights=[a, b]") == (["probes", "weights"], ["a", "b"])
    with pytest.raises(ConfigError, match=r"key\.path=value"):
        parse_override("schedule.steps_per_doc")


BAD_CONFIGS = [
    (["--set", "model.nmae=x"], "unknown config key 'model.nmae'; allowed here: name, revision"),
    (["--set", "schedule.steps_per_doc=many"], "config key 'schedule.steps_per_doc'"),
    (
        ["--set", "data.num_docs=1"],
        "config key 'data.num_docs': Input should be greater than or equal to 2",
    ),
    (["--set", "schedule.steps_per_doc=0"], "'schedule.steps_per_doc': Input should be greater"),
    (["--set", "data.context_length=1"], "'data.context_length': Input should be greater"),
    (["--set", "optimizer.name=rmsprop"], "Input should be 'sgd', 'adam' or 'adamw'"),
    (["--set", "model.name=./no/such/model"], "local model directory './no/such/model' does not"),
    (["--set", "data.source=missing.jsonl"], "local corpus 'missing.jsonl' does not exist"),
    (["--preset", "paper/nope"], "unknown preset 'paper/nope'; available presets: default"),
    (["--set", "probes.activation_layers=[9]"], "layer 9 is out of range for a model with 4"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_CONFIGS)
def test_bad_config_names_the_problem_and_writes_nothing(
    arguments: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", "--out", str(tmp_path / "runs"), "--quiet", *arguments])
    error = capsys.readouterr().err
    assert status == 2
    assert message in error
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())

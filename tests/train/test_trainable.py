"""What trains: frozen blocks stay bit-identical, LoRA trains adapters only, dropout off."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import reawaken
from reawaken.config import ModelConfig, RunConfig
from reawaken.errors import ConfigError
from reawaken.models import load_model
from reawaken.train import run_experiment
from reawaken.train.checkpoint import latest_checkpoint


def before_and_after(
    config: RunConfig, path: Path
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The model's weights as loaded for the run, and as the run's last checkpoint holds them."""
    initial = {
        k: v.clone()
        for k, v in load_model(config.model, seed=config.seed).model.state_dict().items()
    }
    result = run_experiment(config, path, progress=False)
    checkpoint = latest_checkpoint(result.path)
    assert checkpoint is not None and checkpoint.step == result.completed_steps
    return initial, load_file(str(checkpoint.path / "model.safetensors"))


def changed(initial: dict[str, torch.Tensor], final: dict[str, torch.Tensor]) -> set[str]:
    assert initial.keys() == final.keys()
    return {name for name in initial if not torch.equal(initial[name], final[name])}


@pytest.mark.parametrize(
    ("settings", "frozen_prefixes", "trained_prefixes"),
    [
        (
            ["model.freeze_first_blocks=1", "model.freeze_embeddings=true"],
            ["gpt_neox.layers.0.", "gpt_neox.embed_in."],
            ["gpt_neox.layers.1.", "lm_head"],
        ),
        (
            ["model.freeze_last_blocks=1"],
            ["gpt_neox.layers.1."],
            ["gpt_neox.layers.0.", "gpt_neox.embed_in."],
        ),
    ],
)
def test_frozen_weights_are_bit_identical_and_the_rest_trains(
    settings: list[str],
    frozen_prefixes: list[str],
    trained_prefixes: list[str],
    make_config: Callable[..., RunConfig],
    tmp_path: Path,
) -> None:
    config = make_config(*settings)
    initial, final = before_and_after(config, tmp_path / "frozen.zarr")
    moved = changed(initial, final)
    for name in initial:
        if name.startswith(tuple(frozen_prefixes)):
            assert name not in moved, name
    for prefix in trained_prefixes:  # every weight matrix outside the frozen part moved
        weights = [n for n in initial if n.startswith(prefix) and n.endswith("weight")]
        weights = [n for n in weights if "layernorm" not in n]  # norms may barely move
        assert weights and all(n in moved for n in weights), prefix


def test_too_many_frozen_blocks_is_a_config_error(tiny_model_dir: Path) -> None:
    config = ModelConfig(name=str(tiny_model_dir), freeze_first_blocks=2, freeze_last_blocks=1)
    with pytest.raises(ConfigError, match=r"\(2\) \+ 'model.freeze_last_blocks' \(1\) exceed .* 2"):
        load_model(config, seed=0)


def test_lora_trains_only_the_adapters(
    make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    pytest.importorskip("peft")
    config = make_config("model.lora.rank=2", "model.lora.target_modules=[query_key_value]")
    initial, final = before_and_after(config, tmp_path / "lora.zarr")
    adapters = {n for n in initial if "lora_" in n}
    assert adapters and all("query_key_value" in n for n in adapters)
    assert changed(initial, final) == {n for n in adapters if "lora_B" in n} | {
        n for n in adapters if "lora_A" in n
    }
    ds = reawaken.open_run(tmp_path / "lora.zarr")
    trainable = sum(initial[n].numel() for n in adapters)
    assert int(ds.attrs["num_trainable_parameters"]) == trainable
    assert ds.loss.values[-1].mean() < ds.loss.values[0].mean()  # the adapters do learn


def test_lora_with_a_missing_target_names_the_key(tiny_model_dir: Path) -> None:
    pytest.importorskip("peft")
    config = ModelConfig(name=str(tiny_model_dir), lora={"target_modules": ["no_such_layer"]})
    with pytest.raises(ConfigError, match=r"model\.lora\.target_modules"):
        load_model(config, seed=0)


def test_lora_without_peft_says_how_to_install_it(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft now raises ImportError
    with pytest.raises(ConfigError, match=r"'model\.lora' needs the peft package: pip install"):
        load_model(ModelConfig(name=str(tiny_model_dir), lora={"rank": 2}), seed=0)


def test_disable_dropout_zeroes_every_dropout(tmp_path: Path) -> None:
    from reawaken.models import save_tiny_gpt2

    folder = save_tiny_gpt2(tmp_path / "gpt2", weights=True)
    with_dropout = load_model(ModelConfig(name=str(folder)), seed=0).model
    assert any(m.p > 0 for m in with_dropout.modules() if isinstance(m, torch.nn.Dropout))
    model = load_model(ModelConfig(name=str(folder), disable_dropout=True), seed=0).model
    assert all(m.p == 0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    model.train()
    ids = torch.arange(1, 20)[None]
    assert torch.equal(model(ids).logits, model(ids).logits)  # train mode, yet deterministic

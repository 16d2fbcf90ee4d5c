"""The model factory: local checkpoints, config-built models, Pythia's init, the built-in."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from reawaken.config import ModelConfig
from reawaken.errors import ConfigError
from reawaken.models import builtin_model_dir, load_model


def test_local_checkpoint_loads_its_saved_weights(tiny_model_dir: Path) -> None:
    from safetensors.torch import load_file

    loaded = load_model(ModelConfig(name=str(tiny_model_dir), pretrained=True), seed=0)
    saved = load_file(str(tiny_model_dir / "model.safetensors"))
    state = loaded.model.state_dict()
    # transformers 5 names the unembedding lm_head in memory but embed_out on disk
    renamed = {name.replace("embed_out", "lm_head"): tensor for name, tensor in saved.items()}
    assert renamed.keys() == state.keys()
    assert all(torch.equal(state[name], tensor) for name, tensor in renamed.items())
    assert loaded.info["model_source"] == str(tiny_model_dir)
    assert loaded.tokenize("hello world", 10) == loaded.tokenizer("hello world")["input_ids"]


def test_config_built_model_applies_architecture_and_pythia_init(tiny_model_dir: Path) -> None:
    config = ModelConfig(
        name=str(tiny_model_dir),
        pretrained=False,
        architecture={"hidden_size": 64, "num_layers": 3, "num_heads": 4},
    )
    model = load_model(config, seed=0).model
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (64, 3)
    assert model.config.num_attention_heads == 4
    params = dict(model.named_parameters())
    small, wang = math.sqrt(2 / (5 * 64)), 2 / (3 * math.sqrt(64))
    qkv = params["gpt_neox.layers.0.attention.query_key_value.weight"]
    dense = params["gpt_neox.layers.1.mlp.dense_4h_to_h.weight"]
    assert qkv.std().item() == pytest.approx(small, rel=0.05)
    assert dense.std().item() == pytest.approx(wang, rel=0.05)
    assert torch.all(params["gpt_neox.layers.0.input_layernorm.weight"] == 1)


def test_same_seed_builds_the_same_model(tiny_model_dir: Path) -> None:
    config = ModelConfig(name=str(tiny_model_dir), pretrained=False)
    a = load_model(config, seed=3).info["weights_sha256"]
    b = load_model(config, seed=3).info["weights_sha256"]
    c = load_model(config, seed=4).info["weights_sha256"]
    assert a == b != c


def test_builtin_model_has_no_weights_and_says_so() -> None:
    assert (builtin_model_dir("builtin:tiny-neox") / "config.json").is_file()
    with pytest.raises(ConfigError, match=r"set model\.pretrained=false"):
        load_model(ModelConfig(name="builtin:tiny-neox", pretrained=True), seed=0)


def test_architecture_override_needs_a_config_built_model(tiny_model_dir: Path) -> None:
    config = ModelConfig(name=str(tiny_model_dir), architecture={"hidden_size": 64})
    with pytest.raises(ConfigError, match=r"need model\.pretrained=false"):
        load_model(config, seed=0)


def test_cuda_request_without_a_gpu_is_a_config_error(tiny_model_dir: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="no CUDA device"):
        load_model(ModelConfig(name=str(tiny_model_dir), device="cuda"), seed=0)

"""VGG-19 and ViT-B/16 have torchvision's keys, shapes and sizes, and load its weight files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reawaken.config import load_config
from reawaken.errors import ConfigError
from reawaken.models import classifiers
from reawaken.models.classifiers import WEIGHTS, build_classifier, load_classifier
from reawaken.models.vision import vgg19, vit_b_16

# torchvision/models/vgg.py, cfgs["E"] (VGG-19), copied from its source.
TORCHVISION_CFG_E = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"]
TORCHVISION_CFG_E += [512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
# The parameter counts torchvision documents (Weights.meta["num_params"]).
VGG19_PARAMS, VIT_B_16_PARAMS = 143_667_240, 86_567_656


def shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def torchvision_vgg19_shapes() -> dict[str, tuple[int, ...]]:
    """What vgg.py's make_layers and VGG.__init__ register: conv+ReLU per number, one
    max-pool per "M" (so conv k sits at index 2 * convs + pools), then the classifier."""
    expected, index, channels = {}, 0, 3
    for value in TORCHVISION_CFG_E:
        if value == "M":
            index += 1
            continue
        expected[f"features.{index}.weight"] = (value, channels, 3, 3)
        expected[f"features.{index}.bias"] = (value,)
        index, channels = index + 2, value
    sizes = ((4096, 25088), (4096, 4096), (1000, 4096))
    for position, (rows, cols) in zip((0, 3, 6), sizes, strict=True):
        expected[f"classifier.{position}.weight"] = (rows, cols)
        expected[f"classifier.{position}.bias"] = (rows,)
    return expected


def torchvision_vit_b_16_shapes() -> dict[str, tuple[int, ...]]:
    """vision_transformer.py at patch 16, 12 layers, 12 heads, width 768, MLP 3072, 224 px."""
    expected = {
        "class_token": (1, 1, 768),
        "conv_proj.weight": (768, 3, 16, 16),
        "conv_proj.bias": (768,),
        "encoder.pos_embedding": (1, 197, 768),
    }
    for i in range(12):
        block = f"encoder.layers.encoder_layer_{i}"
        expected |= {
            f"{block}.ln_1.weight": (768,),
            f"{block}.ln_1.bias": (768,),
            f"{block}.self_attention.in_proj_weight": (2304, 768),
            f"{block}.self_attention.in_proj_bias": (2304,),
            f"{block}.self_attention.out_proj.weight": (768, 768),
            f"{block}.self_attention.out_proj.bias": (768,),
            f"{block}.ln_2.weight": (768,),
            f"{block}.ln_2.bias": (768,),
            f"{block}.mlp.0.weight": (3072, 768),
            f"{block}.mlp.0.bias": (3072,),
            f"{block}.mlp.3.weight": (768, 3072),
            f"{block}.mlp.3.bias": (768,),
        }
    expected |= {
        "encoder.ln.weight": (768,),
        "encoder.ln.bias": (768,),
        "heads.head.weight": (1000, 768),
        "heads.head.bias": (1000,),
    }
    return expected


def test_full_size_models_have_torchvisions_keys_shapes_and_parameter_counts() -> None:
    with torch.device("meta"):  # no memory for 230 M parameters
        vgg, vit = vgg19(), vit_b_16()
    assert shapes(vgg) == torchvision_vgg19_shapes()
    assert shapes(vit) == torchvision_vit_b_16_shapes()
    assert sum(p.numel() for p in vgg.parameters()) == VGG19_PARAMS
    assert sum(p.numel() for p in vit.parameters()) == VIT_B_16_PARAMS
    assert [count for _, count in WEIGHTS.values()] == [VGG19_PARAMS, VIT_B_16_PARAMS]
    assert [url.rsplit("/", 1)[1] for url, _ in WEIGHTS.values()] == [
        "vgg19-dcbb9e9d.pth",
        "vit_b_16-c867db91.pth",
    ]


def test_penultimate_features_are_what_the_last_layer_classifies() -> None:
    torch.manual_seed(0)
    images = torch.randn(3, 3, 32, 32)
    for model in (
        vgg19(width_divisor=16, num_classes=7),
        vit_b_16(width_divisor=16, image_size=32),
    ):
        model.eval()
        torch.nn.init.normal_(model.get_output_embeddings().weight)  # ViT's head starts at 0
        logits, features = model.classify(images, [0, -1 % (model.num_layers + 1)])
        assert torch.allclose(logits, model(images))
        assert torch.allclose(logits, model.get_output_embeddings()(features[:, 1]), atol=1e-5)
        assert not torch.allclose(features[:, 0], features[:, 1])


def tiny(name: str, *extra: str) -> list[str]:
    return [f"model.name={name}", "model.vision.width_divisor=64", "model.vision.crop_size=32",
            "model.vision.resize_size=32", "data.source=synthetic_images", *extra]  # fmt: skip


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return list(first) == list(second) and all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("name", ["torchvision:vgg19", "torchvision:vit_b_16"])
def test_weights_load_from_the_torch_hub_cache_and_from_a_given_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(overrides=tiny(name, "model.pretrained=false", "seed=5"))
    torch.manual_seed(11)
    saved = build_classifier(config.model)
    file_name = WEIGHTS[name][0].rsplit("/", 1)[1]
    cache = tmp_path / "torch-home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(saved.state_dict(), cache / file_name)  # where torch.hub keeps the download
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    pretrained = load_config(overrides=tiny(name, "seed=5"))
    loaded = load_classifier(pretrained.model, seed=5)
    assert same_weights(loaded.model, saved)
    assert loaded.info["model_file"] == WEIGHTS[name][0]
    random_init = load_classifier(config.model, seed=5)
    assert not same_weights(random_init.model, saved)  # the file, not the seed, gave them

    given = tmp_path / "mine.pth"
    torch.save(saved.state_dict(), given)
    by_path = load_config(overrides=tiny(name, f"model.vision.weights={given}"))
    assert same_weights(load_classifier(by_path.model, seed=0).model, saved)


def test_vit_files_with_the_old_mlp_names_load() -> None:
    torch.manual_seed(0)
    model = vit_b_16(width_divisor=64, image_size=32)
    old = {
        key.replace("mlp.0.", "mlp.linear_1.").replace("mlp.3.", "mlp.linear_2."): value
        for key, value in model.state_dict().items()
    }
    assert any("linear_1" in key for key in old)
    fresh = vit_b_16(width_divisor=64, image_size=32)
    fresh.load_state_dict(old, strict=True)
    assert same_weights(fresh, model)


def test_missing_weights_without_network_say_where_the_file_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    url = f"file://{tmp_path}/nowhere/vgg19-dcbb9e9d.pth"  # fails like an offline download
    monkeypatch.setitem(classifiers.WEIGHTS, "torchvision:vgg19", (url, VGG19_PARAMS))
    config = load_config(overrides=tiny("torchvision:vgg19"))
    with pytest.raises(ConfigError) as caught:
        load_classifier(config.model, seed=0)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "model.vision.weights" in message and "TORCH_HOME" in message


def test_bad_weight_files_are_named(tmp_path: Path) -> None:
    missing = load_config(overrides=tiny("torchvision:vgg19", f"model.vision.weights={tmp_path}/x"))
    with pytest.raises(ConfigError, match="no file at"):
        load_classifier(missing.model, seed=0)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    config = load_config(overrides=tiny("torchvision:vgg19", f"model.vision.weights={garbage}"))
    with pytest.raises(ConfigError, match="not a state-dict file"):
        load_classifier(config.model, seed=0)
    other = tmp_path / "vit.pth"
    torch.save(vit_b_16(width_divisor=64, image_size=32).state_dict(), other)
    config = load_config(overrides=tiny("torchvision:vgg19", f"model.vision.weights={other}"))
    with pytest.raises(ConfigError, match="does not fit torchvision:vgg19") as caught:
        load_classifier(config.model, seed=0)
    assert "\n" not in str(caught.value)


def test_unknown_classifier_and_text_data_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown image classifier"):
        load_config(overrides=["model.name=torchvision:resnet50", "data.source=synthetic_images"])
    with pytest.raises(ConfigError, match="reads images"):
        load_config(overrides=["model.name=torchvision:vgg19", "data.source=builtin"])
    config = load_config(overrides=tiny("torchvision:vit_b_16", "model.vision.crop_size=30"))
    with pytest.raises(ConfigError, match="multiple of ViT-B/16's patch size"):
        build_classifier(config.model)

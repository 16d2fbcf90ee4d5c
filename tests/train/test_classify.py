"""An image-classifier run: a block lowers its batch's loss, and the store holds true losses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

import reawaken
from reawaken.config import load_config
from reawaken.data.images import SHAPES, synthetic_image
from reawaken.errors import ConfigError
from reawaken.models.classifiers import build_classifier
from reawaken.train.checkpoint import latest_checkpoint
from reawaken.train.classify import ClassifierWorkload
from reawaken.train.runner import run_experiment

SIZE, RESIZE, CROP = 12, 36, 32  # synthetic 12-px images, resized to 36, cropped to 32
TINY = [
    "model.pretrained=false",
    "model.vision.width_divisor=64", f"model.vision.resize_size={RESIZE}",
    f"model.vision.crop_size={CROP}", "data.source=synthetic_images",
    f"data.image_size={SIZE}", "data.num_docs=3", "data.images_per_doc=4",
    "schedule.steps_per_doc=3", "schedule.num_epochs=1", "optimizer.name=adam",
    "optimizer.lr=0.003", "optimizer.reset_per_doc=true", "probes.snapshot_every=doc",
    "probes.activation_layers=[0,-1]", "seed=2",
]  # fmt: skip


def batch_by_hand(source_id: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch rebuilt from its ``source_id`` alone: torchvision's transform, written out."""
    images, labels = [], []
    for image_id in source_id.split("|"):
        _, index, shape = image_id.split(":")
        picture = Image.fromarray(synthetic_image(int(index), SIZE))
        picture = picture.resize((RESIZE, RESIZE), Image.Resampling.BILINEAR)  # square: both
        offset = round((RESIZE - CROP) / 2)
        pixels = np.asarray(picture)[offset : offset + CROP, offset : offset + CROP]
        scaled = torch.tensor(pixels, dtype=torch.float32).permute(2, 0, 1) / 255
        mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
        std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
        images.append((scaled - mean) / std)
        labels.append(SHAPES.index(shape))
    return torch.stack(images), torch.tensor(labels)


@pytest.mark.parametrize("name", ["torchvision:vit_b_16", "torchvision:vgg19"])
def test_a_run_lowers_each_trained_batch_and_stores_its_true_cross_entropy(
    name: str, tmp_path: Path
) -> None:
    config = load_config(overrides=[*TINY, f"model.name={name}"])
    result = run_experiment(config, tmp_path / "run.zarr", progress=False)
    assert result.status == "completed"
    ds = reawaken.open_run(result.path)
    assert ds.sizes["doc"] == 3 and ds.n_tokens.values.tolist() == [4, 4, 4]
    loss = ds["loss"].values
    for block in range(3):  # evaluated at each block's end (evaluation.every doc)
        end = 3 * (block + 1)
        doc = int(ds.trained_doc.values[end])
        start = 3 * block  # the evaluation before the block's first update
        assert loss[end, doc] < loss[start, doc] - 1e-3, (block, loss[[start, end], doc])

    final = latest_checkpoint(result.path)
    assert final is not None and final.step == 9
    model = build_classifier(config.model)
    model.load_state_dict(load_file(str(final.path / "model.safetensors")))
    model.eval()  # the losses are eval-mode ones: VGG's dropout off
    for doc in range(3):
        images, labels = batch_by_hand(str(ds.source_id.values[doc]))
        assert ds.tokens.values[doc].tolist() == labels.tolist()
        with torch.no_grad():
            expected = F.cross_entropy(model(images), labels)
            _, features = model.classify(images, [0, model.num_layers])
        assert float(loss[-1, doc]) == pytest.approx(float(expected), abs=1e-5)
        stored = ds["activation"].values[-1, doc]  # (layer, hidden) at the last snapshot
        assert np.allclose(stored, features.mean(0).numpy(), atol=1e-5)


def test_language_only_keys_are_refused_by_name() -> None:
    for key in ("noise.mask_prob=0.1", "probes.token_loss=true", "model.freeze_first_blocks=1"):
        config = load_config(overrides=[*TINY, "model.name=torchvision:vit_b_16", key])
        with pytest.raises(ConfigError, match=f"'{key.split('=')[0]}' does not apply"):
            ClassifierWorkload.build(config)

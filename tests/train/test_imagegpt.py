"""Image GPT on synthetic images: quantisation, evaluation equality, a schema-valid run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import reawaken
from reawaken.config import DataConfig, ModelConfig, load_config
from reawaken.data import load_documents, read_source
from reawaken.errors import ConfigError
from reawaken.models import ColourQuantizer, load_model, save_tiny_imagegpt
from reawaken.store.check import check_run
from reawaken.train import run_experiment
from reawaken.train.evaluate import evaluate_documents, make_batches

SIZE = 6  # 36 pixels = 36 tokens


@pytest.fixture(scope="module")
def imagegpt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_imagegpt(tmp_path_factory.mktemp("igpt"), weights=True)


def test_images_are_seeded_and_named() -> None:
    config = DataConfig(source="synthetic_images", image_size=SIZE, num_docs=4)
    first, again = read_source(config, 4, seed=1), read_source(config, 4, seed=1)
    assert [d.source_id for d in first] == [d.source_id for d in again]
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(first, again, strict=True))
    assert first[0].source_id.startswith("synthetic:")
    assert first[0].pixels.shape == (SIZE, SIZE, 3)
    assert [d.source_id for d in read_source(config, 4, seed=2)] != [d.source_id for d in first]


def test_quantiser_takes_the_nearest_cluster(imagegpt_dir: Path) -> None:
    quantizer = ColourQuantizer.from_pretrained(str(imagegpt_dir))
    assert quantizer.clusters.shape == (64, 3) and quantizer.pad_token_id == 64
    pixels = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    ids = quantizer.encode(pixels)
    scaled = pixels.reshape(-1, 3) / 127.5 - 1
    for pixel, chosen in zip(scaled, ids, strict=True):
        distances = ((quantizer.clusters - pixel) ** 2).sum(1)
        assert distances[chosen] == pytest.approx(distances.min())


def test_batched_evaluation_equals_the_models_own_loss(imagegpt_dir: Path) -> None:
    loaded = load_model(ModelConfig(name=str(imagegpt_dir)), seed=0)
    config = DataConfig(source="synthetic_images", image_size=SIZE, num_docs=4, context_length=36)
    documents = load_documents(config, loaded.tokenize, seed=0)
    assert all(len(ids) == 36 and max(ids) < 64 for ids in documents.input_ids)
    batches = make_batches(documents, pad_id=loaded.pad_id, device=loaded.device, batch_size=3)
    result = evaluate_documents(loaded.model, batches, layers=(-1,), chunk_tokens=5)
    losses, activation = result.loss, result.activation
    with torch.no_grad():
        expected = [
            float(loaded.model(input_ids=torch.tensor([ids]), labels=torch.tensor([ids])).loss)
            for ids in documents.input_ids
        ]
    torch.testing.assert_close(losses, torch.tensor(expected), rtol=1e-5, atol=1e-5)
    assert activation is not None and activation.shape == (4, 1, 32)


def test_tiny_imagegpt_run_writes_a_schema_valid_store(imagegpt_dir: Path, tmp_path: Path) -> None:
    config = load_config(
        overrides=[
            f"model.name={imagegpt_dir}",
            "model.pretrained=true",
            "model.disable_dropout=true",
            "data.source=synthetic_images",
            f"data.image_size={SIZE}",
            "data.num_docs=3",
            "data.context_length=64",
            "schedule.steps_per_doc=2",
            "schedule.num_epochs=2",
            "optimizer.name=adam",
            "optimizer.lr=0.01",
            "optimizer.reset_per_doc=true",
            "evaluation.every=step",  # a named model otherwise runs the paper's cadence
            "probes.sketch_size=16",
        ]
    )
    result = run_experiment(config, tmp_path / "igpt.zarr", progress=False)
    assert result.status == "completed"
    assert check_run(result.path) == []
    ds = reawaken.open_run(result.path)
    assert ds.sizes["doc"] == 3 and ds.n_tokens.values.tolist() == [SIZE * SIZE] * 3
    assert all(str(s).startswith("synthetic:") for s in ds.source_id.values)
    assert np.isfinite(ds.loss.values).all()
    first_block = ds.loss.values[2] - ds.loss.values[0]  # after the first document's 2 steps
    assert first_block.argmin() == ds.trained_doc.values[1]  # the trained image gained most


def test_text_data_on_an_image_model_is_a_config_error(imagegpt_dir: Path) -> None:
    loaded = load_model(ModelConfig(name=str(imagegpt_dir)), seed=0)
    with pytest.raises(ConfigError, match=r"image data .* needs an image model"):
        loaded.tokenize("some text", 10)


def test_images_longer_than_the_position_table_are_a_config_error(
    imagegpt_dir: Path, tmp_path: Path
) -> None:
    config = load_config(
        overrides=[
            f"model.name={imagegpt_dir}",
            "data.source=synthetic_images",
            "model.pretrained=true",
            "data.image_size=40",  # 1600 tokens; the tiny model has 1024 positions
            "data.context_length=2048",
        ]
    )
    with pytest.raises(ConfigError, match=r"up to 1600 tokens .* at most 1024 positions"):
        run_experiment(config, tmp_path / "big.zarr", progress=False)
    assert not (tmp_path / "big.zarr").exists()


def test_config_built_imagegpt_takes_architecture_overrides(imagegpt_dir: Path) -> None:
    config = ModelConfig(
        name=str(imagegpt_dir),
        pretrained=False,
        init_scheme="default",
        architecture={"hidden_size": 16, "num_layers": 1, "num_heads": 2},
    )
    loaded = load_model(config, seed=0)
    assert (loaded.model.config.n_embd, loaded.model.config.n_layer) == (16, 1)
    assert loaded.is_image_model and loaded.tokenizer.clusters.shape == (64, 3)
    with pytest.raises(ConfigError, match="use init_scheme=default"):
        load_model(config.model_copy(update={"init_scheme": "pythia"}), seed=0)

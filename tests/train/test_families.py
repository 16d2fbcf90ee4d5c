"""GPT-NeoX, Llama and GPT-2 work with every probe: activations, named weights, sketches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

import reawaken
from reawaken.config import RunConfig
from reawaken.models import save_tiny_gpt2, save_tiny_llama, save_tiny_model
from reawaken.train import run_experiment
from reawaken.train.checkpoint import latest_checkpoint
from reawaken.train.probes import CountSketch
from reawaken.train.runner import SKETCH_SEED_OFFSET

SHAPE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}
FAMILIES: dict[str, Callable[[Path], Path]] = {
    "gpt_neox": lambda p: save_tiny_model(p, weights=True, intermediate_size=64, **SHAPE),
    "llama": lambda p: save_tiny_llama(p, weights=True, intermediate_size=64, **SHAPE),
    "gpt2": lambda p: save_tiny_gpt2(p, weights=True, n_embd=32, n_layer=2, n_head=2),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_probe_works_on_each_family(
    family: str, make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    folder = FAMILIES[family](tmp_path / family)
    config = make_config(
        f"model.name={folder}",
        "probes.activation_layers=[0,1,-1]",
        "probes.weights=[unembedding]",
        "checkpoint.every=auto",
    )
    run = reawaken.open_run(run_experiment(config, tmp_path / "run.zarr", progress=False).path)
    original = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert run.attrs["model_type"] == family

    # Activations at step 0: the mean over each document's tokens of hidden_states[layer].
    tokens, lengths = run.tokens.values, run.n_tokens.values
    for doc in range(run.sizes["doc"]):
        ids = torch.tensor(tokens[doc, : lengths[doc]])[None]
        with torch.no_grad():
            states = original(input_ids=ids, output_hidden_states=True).hidden_states
        expected = np.stack([states[layer][0].mean(0).numpy() for layer in (0, 1, 2)])
        stored = run.activation.isel(snapshot=0, doc=doc).values
        np.testing.assert_allclose(stored, expected, rtol=1e-4, atol=1e-5)

    # The unembedding alias copies the output embedding, before and after training.
    unembedding = original.get_output_embeddings().weight.detach().reshape(-1).numpy()
    np.testing.assert_array_equal(run.weight.isel(snapshot=0).values, unembedding)
    checkpoint = latest_checkpoint(tmp_path / "run.zarr")
    assert checkpoint is not None and checkpoint.step == config.total_steps  # end of run
    trained = load_file(str(checkpoint.path / "model.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(folder)
    model.load_state_dict(trained, strict=False)
    final = model.get_output_embeddings().weight.detach().reshape(-1).numpy()
    np.testing.assert_array_equal(run.weight.isel(snapshot=-1).values, final)
    assert not np.array_equal(final, unembedding)

    # The weight sketch is the count sketch of the change since step 0 (zero at step 0).
    assert not run.weight_sketch.isel(snapshot=0).values.any()
    sketch = CountSketch(model, size=config.probes.sketch_size, seed=SKETCH_SEED_OFFSET)
    change = [
        p.detach() - p0.detach()
        for p, p0 in zip(model.parameters(), original.parameters(), strict=True)
    ]
    np.testing.assert_allclose(
        run.weight_sketch.isel(snapshot=-1).values, sketch(change).numpy(), rtol=1e-5, atol=1e-6
    )

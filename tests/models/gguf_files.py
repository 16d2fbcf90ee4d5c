"""Write a tiny GGUF model file with the ``gguf`` package: a stand-in for a downloaded one.

The file holds a config-built Llama's tensors in F32, named and permuted as llama.cpp's
converter writes them, and the bundled byte-level BPE tokenizer, so loading it exercises
exactly the path a real ``.gguf`` file (SmolLM2) takes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from reawaken.models import save_tiny_llama


def _permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's rotary reordering of q/k rows (transformers undoes it when loading)."""
    rows = weights.shape[0] // heads // 2
    return weights.reshape(heads, 2, rows, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def write_tiny_gguf(path: Path, *, seed: int = 0) -> PreTrainedModel:
    """Write a tiny Llama (tied embeddings, 2 blocks) to ``path``; returns the model written."""
    import gguf

    folder = save_tiny_llama(path.parent / f"{path.stem}-source", weights=True, seed=seed)
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer_file = json.loads((folder / "tokenizer.json").read_text())
    config = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    vocab = tokenizer_file["model"]["vocab"]
    tokens = sorted(vocab, key=vocab.get)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    special = {t["id"] for t in tokenizer_file["added_tokens"]}
    writer.add_token_types(
        [
            gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL
            for i in range(len(tokens))
        ]
    )
    writer.add_token_merges(
        [" ".join(m) if isinstance(m, list) else m for m in tokenizer_file["model"]["merges"]]
    )
    eos = AutoTokenizer.from_pretrained(folder).eos_token_id
    writer.add_bos_token_id(eos)
    writer.add_eos_token_id(eos)
    writer.add_pad_token_id(eos)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied to the input embedding: a GGUF file without output.weight
        values = tensor.detach().to(torch.float32).numpy()
        base = name.removesuffix(".weight")
        target = names.get_name(base)
        assert target is not None, name
        if name.endswith("q_proj.weight"):
            values = _permute(values, config.num_attention_heads)
        elif name.endswith("k_proj.weight"):
            values = _permute(values, config.num_key_value_heads)
        writer.add_tensor(f"{target}.weight", np.ascontiguousarray(values))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return model

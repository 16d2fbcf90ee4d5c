"""Tokenise chosen documents into a :class:`DocumentSet`: the T documents of one run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reawaken.config import DataConfig
from reawaken.data.sources import read_source
from reawaken.errors import ConfigError

__all__ = ["DocumentSet", "Tokenize", "load_documents"]

#: Maps a text and a maximum length to its first token ids (the model layer's tokenizer).
Tokenize = Callable[[str, int], list[int]]


@dataclass(frozen=True)
class DocumentSet:
    """Token ids of the T documents, each cut to the context length C (no padding)."""

    input_ids: tuple[tuple[int, ...], ...]
    source_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_tokens(self) -> np.ndarray:
        return np.array([len(ids) for ids in self.input_ids], dtype=np.int32)

    def token_matrix(self, pad: int = -1) -> np.ndarray:
        """(doc, token) int32 matrix, right-padded with ``pad``.

        Examples
        --------
        >>> DocumentSet(((1, 2, 3), (4, 5)), ("a", "b")).token_matrix().tolist()
        [[1, 2, 3], [4, 5, -1]]
        """
        matrix = np.full((len(self), int(self.n_tokens.max())), pad, dtype=np.int32)
        for row, ids in enumerate(self.input_ids):
            matrix[row, : len(ids)] = ids
        return matrix


def load_documents(config: DataConfig, tokenize: Tokenize, seed: int) -> DocumentSet:
    """Draw ``config.num_docs`` documents (seeded) and tokenise each to ``context_length``."""
    sample_seed = seed if config.sample_seed is None else config.sample_seed
    raw = read_source(config, config.num_docs, sample_seed)
    input_ids = []
    for document in raw:
        ids = tuple(tokenize(document.text, config.context_length)[: config.context_length])
        if len(ids) < 2:
            raise ConfigError(
                f"document {document.source_id!r} of {config.source!r} has {len(ids)} token(s); "
                "each document needs at least 2 for a next-token loss"
            )
        input_ids.append(ids)
    return DocumentSet(tuple(input_ids), tuple(d.source_id for d in raw))

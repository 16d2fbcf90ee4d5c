"""Tokenise chosen documents into a :class:`DocumentSet`: the T documents of one run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reawaken.config import DataConfig
from reawaken.data.sources import RawDocument, read_source
from reawaken.errors import ConfigError

__all__ = ["DocumentSet", "Tokenize", "load_documents", "read_documents", "tokenize_documents"]

#: Maps a text (or an image's (height, width, 3) uint8 pixels) and a maximum length to its
#: first token ids: the model layer's tokenizer or colour quantiser.
Tokenize = Callable[[str | np.ndarray, int], list[int]]


@dataclass(frozen=True)
class DocumentSet:
    """Token ids of the T documents, each cut to the context length C (no padding).

    ``heldout`` holds a second text of the same T documents (``data.heldout_field``, e.g. the
    highlights of each article), tokenised the same way; row i belongs to document i.
    """

    input_ids: tuple[tuple[int, ...], ...]
    source_ids: tuple[str, ...]
    heldout: DocumentSet | None = None

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

    def head(self, count: int) -> DocumentSet:
        """The first ``count`` documents (and their held-out texts).

        Examples
        --------
        >>> DocumentSet(((1, 2), (3, 4), (5, 6)), ("a", "b", "c")).head(2).source_ids
        ('a', 'b')
        """
        heldout = self.heldout.head(count) if self.heldout is not None else None
        return DocumentSet(self.input_ids[:count], self.source_ids[:count], heldout)

    def windows(self, size: int) -> DocumentSet:
        """The centre ``size`` tokens of each document (all of a shorter one).

        Examples
        --------
        >>> DocumentSet(((1, 2, 3, 4, 5, 6), (7, 8)), ("a", "b")).windows(2).input_ids
        ((3, 4), (7, 8))
        """
        rows = []
        for ids in self.input_ids:
            start = max(len(ids) - size, 0) // 2
            rows.append(ids[start : start + size])
        return DocumentSet(tuple(rows), self.source_ids, self.heldout)


def _tokenize_checked(
    tokenize: Tokenize, content: str | np.ndarray, config: DataConfig, what: str
) -> tuple[int, ...]:
    ids = tuple(tokenize(content, config.context_length)[: config.context_length])
    if len(ids) < 2:
        raise ConfigError(
            f"{what} of {config.source!r} has {len(ids)} token(s); each document needs at "
            "least 2 for a next-token loss"
        )
    return ids


def read_documents(config: DataConfig, seed: int, *, extra: int = 0) -> list[RawDocument]:
    """Draw ``config.num_docs`` raw documents (seeded), then ``extra`` more (the one-off
    documents of ``schedule.one_offs``): no model needed, so a bad corpus is reported before
    one loads."""
    sample_seed = seed if config.sample_seed is None else config.sample_seed
    wanted = config.num_docs + extra
    try:
        return read_source(config, wanted, sample_seed)
    except ConfigError as error:
        if not extra:
            raise
        raise ConfigError(
            f"{error} (data.num_docs {config.num_docs} plus {extra} one-off documents drawn "
            "for schedule.one_offs; lower schedule.one_offs or schedule.num_epochs)"
        ) from None


def load_documents(config: DataConfig, tokenize: Tokenize, seed: int) -> DocumentSet:
    """Draw ``config.num_docs`` documents (seeded) and tokenise each to ``context_length``."""
    return tokenize_documents(read_documents(config, seed), tokenize, config)


def tokenize_documents(
    raw: list[RawDocument], tokenize: Tokenize, config: DataConfig
) -> DocumentSet:
    """Tokenise drawn documents to ``context_length``.

    Texts go through ``tokenize`` as strings, images as their pixels; the held-out field,
    when configured, is tokenised into ``DocumentSet.heldout``.
    """
    source_ids = tuple(d.source_id for d in raw)
    input_ids = tuple(
        _tokenize_checked(
            tokenize, d.text if d.pixels is None else d.pixels, config, f"document {d.source_id!r}"
        )
        for d in raw
    )
    heldout = None
    if config.heldout_field is not None:
        what = f"field {config.heldout_field!r} (data.heldout_field) of document"
        rows = tuple(
            _tokenize_checked(tokenize, d.heldout or "", config, f"{what} {d.source_id!r}")
            for d in raw
        )
        heldout = DocumentSet(rows, source_ids)
    return DocumentSet(input_ids, source_ids, heldout)

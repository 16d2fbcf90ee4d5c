"""Document sources -> a tokenised :class:`DocumentSet` (bundled, local or HF datasets)."""

from __future__ import annotations

from reawaken.data.documents import DocumentSet, load_documents
from reawaken.data.sources import RawDocument, builtin_corpus_path, read_source

__all__ = ["DocumentSet", "RawDocument", "builtin_corpus_path", "load_documents", "read_source"]

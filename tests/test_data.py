"""Document sources: bundled corpus, local JSONL/TXT files and folders, HF dataset folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reawaken.config import DataConfig
from reawaken.data import DocumentSet, load_documents, read_source
from reawaken.errors import ConfigError


def words(text: str, limit: int) -> list[int]:
    return [len(w) for w in text.split()][:limit]


def test_builtin_corpus_is_sampled_reproducibly_without_replacement() -> None:
    config = DataConfig(num_docs=10)
    first = [d.source_id for d in read_source(config, 10, seed=1)]
    again = [d.source_id for d in read_source(config, 10, seed=1)]
    other = [d.source_id for d in read_source(config, 10, seed=2)]
    assert first == again != other
    assert len(set(first)) == 10


def test_local_jsonl_uses_the_text_field_and_ids(tiny_corpus: Path) -> None:
    config = DataConfig(source=str(tiny_corpus), text_field="article", selection="first")
    docs = read_source(config, 2, seed=0)
    expected = [json.loads(line) for line in tiny_corpus.read_text().splitlines()[:2]]
    assert [d.source_id for d in docs] == [e["id"] for e in expected]
    assert [d.text for d in docs] == [e["article"] for e in expected]


def test_txt_file_splits_on_blank_lines_and_folder_reads_one_file_each(tmp_path: Path) -> None:
    (tmp_path / "book.txt").write_text("first doc\nline two\n\nsecond doc\n\n\nthird doc\n")
    docs = read_source(DataConfig(source=str(tmp_path / "book.txt"), selection="first"), 3, 0)
    assert [d.text for d in docs] == ["first doc\nline two", "second doc", "third doc"]
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("b", "a"):
        (folder / f"{name}.txt").write_text(f"text of {name}")
    docs = read_source(DataConfig(source=str(folder), selection="first"), 2, 0)
    assert [(d.source_id, d.text) for d in docs] == [("a.txt", "text of a"), ("b.txt", "text of b")]


def test_hugging_face_datasets_path_on_a_local_copy(tmp_path: Path) -> None:
    # A folder of JSONL data files is what `datasets.load_dataset` reads for a local copy of
    # cnn_dailymail; the same code path loads the hub dataset by name on a networked machine.
    folder = tmp_path / "cnn_copy"
    folder.mkdir()
    rows = [
        {"id": f"a{i}", "article": f"article number {i} " * 5, "highlights": "h"} for i in range(6)
    ]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    config = DataConfig(source=str(folder), text_field="article", selection="first")
    docs = read_source(config, 3, seed=0)
    assert [d.source_id for d in docs] == ["a0", "a1", "a2"]
    with pytest.raises(ConfigError, match="no field 'text'"):
        read_source(DataConfig(source=str(folder)), 3, seed=0)


def test_asking_for_more_documents_than_exist_names_the_key(tiny_corpus: Path) -> None:
    message = r"'data\.num_docs' asks for 9 documents but .* has only 8"
    with pytest.raises(ConfigError, match=message):
        read_source(DataConfig(source=str(tiny_corpus), text_field="article"), 9, seed=0)


def test_bad_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{not json\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl, line 2: not valid JSON"):
        read_source(DataConfig(source=str(path)), 1, seed=0)


def test_documents_are_cut_to_the_context_length() -> None:
    def tokenize(text: str, max_length: int) -> list[int]:
        return words(text, max_length)

    docs = load_documents(DataConfig(num_docs=3, context_length=7), tokenize, seed=0)
    assert isinstance(docs, DocumentSet)
    assert docs.n_tokens.tolist() == [7, 7, 7]
    assert docs.token_matrix().shape == (3, 7)


def test_a_document_too_short_for_a_next_token_loss_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.jsonl"
    path.write_text('{"text": "one"}\n{"text": "two words"}\n')
    config = DataConfig(source=str(path), num_docs=2, selection="first")
    with pytest.raises(ConfigError, match="has 1 token"):
        load_documents(config, words, seed=0)

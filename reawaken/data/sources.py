"""Read raw documents from the bundled corpus, local files or a Hugging Face dataset.

Each reader returns only the documents it is asked for (by index), so a 287k-article dataset
such as cnn_dailymail is never read or tokenised whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from reawaken.config import GENERATED_SOURCES, LOCAL_DATA_SUFFIXES, DataConfig
from reawaken.data.images import POOL_SIZE, synthetic_image, synthetic_image_id
from reawaken.data.wikitext import split_articles
from reawaken.errors import ConfigError

__all__ = ["RawDocument", "builtin_corpus_path", "read_source"]


@dataclass(frozen=True)
class RawDocument:
    """One untokenised document and where it came from.

    ``heldout`` is the text of ``data.heldout_field`` of the same record (e.g. the highlights
    of a CNN/DailyMail article); ``pixels`` (height, width, 3) uint8 is set for images, whose
    ``text`` is empty.
    """

    source_id: str
    text: str
    heldout: str | None = None
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)


def builtin_corpus_path() -> Path:
    """The bundled offline corpus: docstrings of Python's standard library (PSF licence)."""
    return Path(str(resources.files("reawaken.data") / "assets" / "corpus.jsonl"))


def _missing_field(path: Path, number: int, name: str, key: str, record: dict[str, Any]) -> str:
    return f"{path}, line {number}: no field {name!r} (set {key}; fields here: {', '.join(record)})"


def _read_text(path: Path) -> str:
    """A local file's text; a file that is not UTF-8 (binary, Latin-1) is named, not a trace."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"data.source {path} is not UTF-8 text (byte {error.object[error.start]:#04x} at "
            f"offset {error.start}); save it as UTF-8"
        ) from None


def _text_of(path: Path, number: int, record: dict[str, Any], name: str) -> str:
    value = record[name]
    if value is None:
        raise ConfigError(f"{path}, line {number}: field {name!r} is null; it must hold text")
    if not isinstance(value, str):
        raise ConfigError(
            f"{path}, line {number}: field {name!r} holds {type(value).__name__} "
            f"{json.dumps(value)[:40]}, not text"
        )
    return value


def _read_jsonl(path: Path, text_field: str, heldout_field: str | None = None) -> list[RawDocument]:
    documents = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}, line {number}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            got = f"a {type(record).__name__}" if isinstance(record, list) else line.strip()[:40]
            raise ConfigError(
                f"{path}, line {number}: expected a JSON object ({{...}}), got {got}; "
                "data.source reads JSON Lines: one object per line"
            )
        for name, key in (
            (text_field, "data.text_field"),
            (heldout_field, "data.heldout_field"),
        ):
            if name is not None and name not in record:
                raise ConfigError(_missing_field(path, number, name, key, record))
        source_id = str(record.get("id", f"{path.name}:{number}"))
        heldout = _text_of(path, number, record, heldout_field) if heldout_field else None
        documents.append(
            RawDocument(source_id, _text_of(path, number, record, text_field), heldout)
        )
    return documents


def _read_local(path: Path, text_field: str, heldout_field: str | None) -> list[RawDocument]:
    if heldout_field is not None and path.suffix not in (".jsonl", ".json"):
        raise ConfigError(
            f"config key 'data.heldout_field' needs records with fields (a .jsonl file or a "
            f"Hugging Face dataset); {path} holds plain text"
        )
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise ConfigError(f"data.source folder {path} holds no .txt files")
        return [RawDocument(f.name, _read_text(f)) for f in files]
    if path.suffix in (".jsonl", ".json"):
        return _read_jsonl(path, text_field, heldout_field)
    if path.suffix == ".txt":
        blocks = [b.strip() for b in _read_text(path).split("\n\n")]
        return [RawDocument(f"{path.name}:{i}", b) for i, b in enumerate(b for b in blocks if b)]
    raise ConfigError(
        f"data.source {path} has an unknown format; use one of {', '.join(LOCAL_DATA_SUFFIXES)} "
        "or a folder of .txt files"
    )


def _choose(count: int, wanted: int, config: DataConfig, seed: int) -> np.ndarray:
    if wanted > count:
        raise ConfigError(
            f"config key 'data.num_docs' asks for {wanted} documents but {config.source!r} "
            f"has only {count}"
        )
    if config.selection == "first":
        return np.arange(wanted)
    return np.random.default_rng(seed).choice(count, size=wanted, replace=False)


def _load_hf_dataset(config: DataConfig) -> Any:
    import datasets

    try:
        source = str(Path(config.source).expanduser())
        return datasets.load_dataset(source, config.dataset_config, split=config.split)
    except Exception as error:
        raise ConfigError(
            f"cannot load Hugging Face dataset {config.source!r} (config "
            f"{config.dataset_config!r}, split {config.split!r}): {error}"
        ) from error


def _synthetic_images(config: DataConfig, wanted: int, seed: int) -> list[RawDocument]:
    if config.heldout_field is not None:
        raise ConfigError(
            "config key 'data.heldout_field' does not apply to data.source synthetic_images "
            "(images have no second field); set it to null"
        )
    chosen = _choose(POOL_SIZE, wanted, config, seed)
    return [
        RawDocument(
            synthetic_image_id(int(i)), "", pixels=synthetic_image(int(i), config.image_size)
        )
        for i in chosen
    ]


def _wikitext_lines(config: DataConfig) -> list[str]:
    """The lines of a wikitext corpus: a local text file, a JSONL file or a dataset's rows."""
    if config.heldout_field is not None:
        raise ConfigError(
            "config key 'data.heldout_field' does not apply to data.documents "
            "wikitext_articles (articles have no second field); set it to null"
        )
    local = Path(config.source).expanduser()
    if config.source in GENERATED_SOURCES or local.is_dir():
        raise ConfigError(
            f"config key 'data.documents': wikitext_articles needs wikitext lines (a .txt file "
            f"such as wiki.train.tokens, a .jsonl file or a dataset such as wikitext); "
            f"data.source {config.source!r} has none"
        )
    if local.is_file() and local.suffix in (".jsonl", ".json"):
        return [d.text for d in _read_jsonl(local, config.text_field)]
    if local.is_file():
        with local.open() as lines:
            return list(lines)
    dataset = _load_hf_dataset(config)
    if config.text_field not in dataset.column_names:
        raise ConfigError(
            f"dataset {config.source!r} has no field {config.text_field!r} (set "
            f"data.text_field; fields: {', '.join(dataset.column_names)})"
        )
    return list(dataset[config.text_field])


def _wikitext_articles(config: DataConfig) -> list[RawDocument]:
    articles = split_articles(_wikitext_lines(config))
    if not articles:
        raise ConfigError(
            f"data.source {config.source!r} has no top-level ' = Title = ' heading line, so "
            "no wikitext article (data.documents: wikitext_articles)"
        )
    return [RawDocument(f"{i}:{title}", text) for i, (title, text) in enumerate(articles)]


def read_source(config: DataConfig, wanted: int, seed: int) -> list[RawDocument]:
    """The ``wanted`` documents chosen from ``config.source`` (seeded, without replacement).

    ``source`` is ``builtin``, ``synthetic_images`` (seeded images of
    ``data.image_size`` pixels), a .jsonl/.txt file, a folder of .txt files (one document
    each), a Hugging Face dataset name (``cnn_dailymail``) or a folder of data files that
    ``datasets.load_dataset`` reads (a local copy of a hub dataset). With
    ``data.heldout_field`` each document also carries that field's text. With
    ``data.documents: wikitext_articles`` the records are wikitext lines and each document is
    one article (:func:`reawaken.data.wikitext.split_articles`), its ``source_id``
    ``<article index>:<title>``.

    Examples
    --------
    >>> from reawaken.config import DataConfig
    >>> docs = read_source(DataConfig(selection="first"), wanted=2, seed=0)
    >>> docs[0].source_id
    'python-stdlib:abc'
    """
    source, heldout_field = config.source, config.heldout_field
    local = Path(source).expanduser()
    if config.documents == "wikitext_articles":
        pool = _wikitext_articles(config)
        return [pool[i] for i in _choose(len(pool), wanted, config, seed)]
    if source == "synthetic_images":
        return _synthetic_images(config, wanted, seed)
    if source == "builtin":
        pool = _read_jsonl(builtin_corpus_path(), "text", heldout_field)
    elif local.is_file() or (local.is_dir() and any(local.glob("*.txt"))):
        pool = _read_local(local, config.text_field, heldout_field)
    else:  # a hub dataset name, or a folder of data files (a local copy of a hub dataset)
        dataset = _load_hf_dataset(config)
        for name, key in (
            (config.text_field, "data.text_field"),
            (heldout_field, "data.heldout_field"),
        ):
            if name is not None and name not in dataset.column_names:
                raise ConfigError(
                    f"dataset {source!r} has no field {name!r} (set {key}; "
                    f"fields: {', '.join(dataset.column_names)})"
                )
        chosen = _choose(len(dataset), wanted, config, seed)
        rows = dataset.select(chosen.tolist())
        ids = rows["id"] if "id" in rows.column_names else [str(i) for i in chosen]
        texts = rows[config.text_field]
        heldouts = rows[heldout_field] if heldout_field else [None] * len(texts)
        return [RawDocument(str(i), t, h) for i, t, h in zip(ids, texts, heldouts, strict=True)]
    chosen = _choose(len(pool), wanted, config, seed)
    return [pool[i] for i in chosen]

"""Build the bundled offline corpus and tokenizer (reawaken/data/assets/) from CPython's docs.

The documents are the docstrings of standard-library modules and their public functions and
classes: real English prose that every Python ships, under the PSF licence. Run once by the
maintainers; the outputs are committed so that every install has the same corpus.

    python scripts/build_builtin_corpus.py
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "reawaken" / "data" / "assets"
MIN_WORDS, MAX_WORDS = 180, 600
VOCAB_SIZE = 2048


def clean(text: str) -> str:
    text = inspect.cleandoc(text)
    text = re.sub(r">>>.*|\.\.\. .*", "", text)  # drop doctest lines: prose only
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n{2,}", "\n\n", text)
    return text.strip()


def module_document(name: str) -> str | None:
    try:
        module = importlib.import_module(name)
    except Exception:
        return None
    parts = [clean(module.__doc__ or "")]
    for attr, value in sorted(vars(module).items()):
        if attr.startswith("_") or getattr(value, "__module__", None) != name:
            continue
        if inspect.isfunction(value) or inspect.isclass(value):
            doc = inspect.getdoc(value)
            if doc and len(doc.split()) > 8:
                parts.append(f"{attr}: {clean(doc)}")
    words = 0
    kept = []
    for part in parts:
        if not part:
            continue
        kept.append(part)
        words += len(part.split())
        if words > MAX_WORDS:
            break
    text = "\n\n".join(kept)
    return text if len(text.split()) >= MIN_WORDS else None


def main() -> None:
    names = sorted(
        n
        for n in sys.stdlib_module_names
        if not n.startswith("_")
        and n not in {"antigravity", "this", "idlelib", "tkinter", "turtle"}
    )
    docs = []
    for name in names:
        text = module_document(name)
        if text:
            docs.append({"id": f"python-stdlib:{name}", "title": name, "text": text})
    ASSETS.mkdir(parents=True, exist_ok=True)
    with (ASSETS / "corpus.jsonl").open("w") as out:
        for doc in docs:
            out.write(json.dumps(doc) + "\n")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator((d["text"] for d in docs), trainer)
    tokenizer.save(str(ASSETS / "tokenizer.json"))
    print(f"{len(docs)} documents, {sum(len(d['text'].split()) for d in docs)} words")


if __name__ == "__main__":
    main()

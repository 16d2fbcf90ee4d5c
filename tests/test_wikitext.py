"""Wikitext articles (Fig. 21): one document per article, split at top-level headings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reawaken.config import DataConfig
from reawaken.data import read_source
from reawaken.data.wikitext import split_articles
from reawaken.errors import ConfigError

# The layout of wiki.train.tokens (wikitext-103-raw): a blank line around each heading,
# sections as "= = ... = =", sub-sections deeper, one paragraph per line, and a first line
# that belongs to no article.
_LINES = [
    "",
    " = Valkyria Chronicles III =",
    "",
    " Senjō no Valkyria 3 is a tactical role @-@ playing video game .",
    "",
    " = = Gameplay = =",
    "",
    " As with previous games , the player takes command of a squad .",
    "",
    " = = = Units = = =",
    "",
    " Units have classes = scouts , troopers and lancers = with roles .",
    "",
    " = Tower Building of the Little Rock Arsenal =",
    "",
    " The Tower Building is the oldest building in Little Rock .",
    "",
    " = = History = =",
    "",
    " Built in 1840 .",
    "",
    " = Cicely Mary Barker =",
    "",
    " Cicely Mary Barker was an English illustrator .",
]
# wikitext ends every line with " \n"
WIKITEXT = "".join(f"{line} \n" for line in _LINES)


@pytest.fixture
def wikitext_file(tmp_path: Path) -> Path:
    path = tmp_path / "wiki.train.tokens.txt"
    path.write_text(WIKITEXT)
    return path


def test_articles_split_at_top_level_headings_only() -> None:
    articles = split_articles(WIKITEXT.splitlines(keepends=True))
    assert [title for title, _ in articles] == [
        "Valkyria Chronicles III",
        "Tower Building of the Little Rock Arsenal",
        "Cicely Mary Barker",
    ]
    first = articles[0][1]
    assert first.startswith("= Valkyria Chronicles III =")
    # sections, sub-sections and a line with '=' inside stay in their article
    assert "= = Gameplay = =" in first and "= = = Units = = =" in first
    assert "classes = scouts , troopers and lancers = with roles" in first
    assert "Little Rock" not in first
    assert articles[1][1].endswith("Built in 1840 .")
    assert articles[2][1] == (
        "= Cicely Mary Barker = \n \n Cicely Mary Barker was an English illustrator ."
    )


def test_a_local_wikitext_file_gives_one_document_per_article(wikitext_file: Path) -> None:
    config = DataConfig(
        source=str(wikitext_file), documents="wikitext_articles", selection="first", num_docs=3
    )
    docs = read_source(config, 3, seed=0)
    assert [d.source_id for d in docs] == [
        "0:Valkyria Chronicles III",
        "1:Tower Building of the Little Rock Arsenal",
        "2:Cicely Mary Barker",
    ]
    assert "Built in 1840" in docs[1].text and "Senjō" not in docs[1].text
    # the same lines as dataset rows (a JSONL copy of the hub's wikitext) give the same articles
    rows = wikitext_file.with_suffix(".jsonl")
    lines = WIKITEXT.splitlines(keepends=True)
    rows.write_text("\n".join(json.dumps({"text": line}) for line in lines))
    from_rows = read_source(config.model_copy(update={"source": str(rows)}), 3, seed=0)
    assert [d.text for d in from_rows] == [d.text for d in docs]
    with pytest.raises(ConfigError, match="has only 3"):
        read_source(config, 4, seed=0)


def test_sources_without_wikitext_lines_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs wikitext lines"):
        read_source(DataConfig(documents="wikitext_articles"), 2, seed=0)
    plain = tmp_path / "plain.txt"
    plain.write_text("no headings here\n\njust text\n")
    with pytest.raises(ConfigError, match="no top-level ' = Title = ' heading"):
        read_source(DataConfig(source=str(plain), documents="wikitext_articles"), 1, seed=0)

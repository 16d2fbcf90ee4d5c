"""Wikitext articles from its lines: one document per article, split at top-level headings.

Wikitext-103 (the files ``wiki.train.tokens`` and the Hugging Face dataset ``wikitext``,
config ``wikitext-103-raw-v1``) stores Wikipedia as lines: an article starts with a
top-level heading line `` = Title = ``, its sections with `` = = Section = = `` and deeper, and
paragraphs are single lines. The paper does not say how it formed documents from these lines
(Fig. 21); reawaken takes one article per document: the lines from one top-level heading up
to the next, the heading included, joined as they are in the corpus. Lines before the first
heading belong to no article and are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["article_title", "split_articles"]


def article_title(line: str) -> str | None:
    """The title if ``line`` is a top-level heading (`` = Title = ``), else None.

    Examples
    --------
    >>> article_title(" = Valkyria Chronicles III = \\n")
    'Valkyria Chronicles III'
    >>> article_title(" = = Gameplay = = \\n") is None, article_title(" a = b = c \\n") is None
    (True, True)
    """
    text = line.strip()
    if not (text.startswith("= ") and text.endswith(" =")) or text.startswith("= ="):
        return None
    if text.endswith("= =") or len(text) < 5:
        return None
    return text[2:-2].strip() or None


def split_articles(lines: Iterable[str]) -> list[tuple[str, str]]:
    """(title, text) of each article, in corpus order; ``text`` starts with its heading line.

    Lines are taken as they come (with or without their newline: a missing one is added),
    and each article's text is stripped of surrounding blank space.

    Examples
    --------
    >>> lines = [" = A = ", " ", " = = Part = = ", " one . ", " = B = ", " two . "]
    >>> split_articles(lines)
    [('A', '= A = \\n \\n = = Part = = \\n one .'), ('B', '= B = \\n two .')]
    """
    articles: list[tuple[str, str]] = []
    title: str | None = None
    body: list[str] = []

    def close() -> None:
        if title is not None:
            articles.append((title, "".join(body).strip()))

    for line in lines:
        heading = article_title(line)
        if heading is not None:
            close()
            title, body = heading, []
        if title is not None:
            body.append(line if line.endswith("\n") else line + "\n")
    close()
    return articles

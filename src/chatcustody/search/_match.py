"""The definition of a match, applied to decrypted text; and highlighted snippets.

A term matches a text when its normalised form occurs in the normalised text and the
occurrence does not cut a word run: a term that starts (ends) with a letter or digit must
not be preceded (followed) by one. CJK characters and symbols match anywhere — that is
exact substring search for Chinese, and whole words and numbers for Latin script. In word
mode the occurrence must also start and end on word boundaries of the text's jieba
segmentation (rjieba). A record matches a term when its text or one of its attachment
names does.

The index only proposes candidates; this module decides. The test oracle in tests/search
re-implements this definition over plaintext independently of the index.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import rjieba

from chatcustody.search._query import Query, Term
from chatcustody.search._text import Aligned, align, is_word_char, normalise

SNIPPET_BEFORE: Final[int] = 24  # graphemes of context before the first match
SNIPPET_LENGTH: Final[int] = 80  # graphemes shown in all
MARK_OPEN: Final[str] = "⟪"
MARK_CLOSE: Final[str] = "⟫"


@lru_cache(maxsize=4096)
def _word_bounds(norm: str) -> frozenset[int]:
    bounds = {0, len(norm)}
    for _, start, end in rjieba.tokenize(norm):
        bounds.add(start)
        bounds.add(end)
    return frozenset(bounds)


def occurrences(term: Term, norm: str, mode: str) -> Iterator[int]:
    """Yield the start offsets in ``norm`` where ``term`` matches."""
    needle = term.norm
    start = norm.find(needle)
    if start < 0:
        return
    lead, trail = term.leads_with_word, term.ends_with_word
    bounds = _word_bounds(norm) if mode == "word" else None
    while start >= 0:
        end = start + len(needle)
        if (
            (not lead or not is_word_char(norm, start - 1))
            and (not trail or not is_word_char(norm, end))
            and (bounds is None or (start in bounds and end in bounds))
        ):
            yield start
        start = norm.find(needle, start + 1)


class Candidate:
    """A decrypted record's searchable parts, normalised once, lazily."""

    __slots__ = ("parts", "_norms")

    def __init__(self, text: str, attachment_names: Sequence[str]) -> None:
        self.parts: list[str] = [text, *attachment_names]
        self._norms: list[str | None] = [None] * len(self.parts)

    def norm(self, i: int) -> str:
        """Return the normalised form of part ``i``."""
        value = self._norms[i]
        if value is None:
            value = self._norms[i] = normalise(self.parts[i])
        return value

    def has(self, term: Term, mode: str) -> bool:
        """Return True when the text or an attachment name matches ``term``."""
        return any(
            next(occurrences(term, self.norm(i), mode), None) is not None
            for i in range(len(self.parts))
        )


def record_matches(query: Query, mode: str, text: str, names: Sequence[str]) -> bool:
    """Return True when a record's text and attachment names satisfy the query's terms."""
    if query.has_attachment and not names:
        return False
    cand = Candidate(text, names)
    for clause in query.clauses:
        if not any(cand.has(t, mode) for t in clause):
            return False
    return not any(cand.has(t, mode) for t in query.excluded)


# -- snippets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """An excerpt of a text as (piece, highlighted) parts."""

    parts: tuple[tuple[str, bool], ...]

    def marked(self, open_: str = MARK_OPEN, close: str = MARK_CLOSE) -> str:
        """Return the excerpt with highlighted pieces between markers."""
        return "".join(f"{open_}{p}{close}" if hl else p for p, hl in self.parts)

    @property
    def plain(self) -> str:
        """Return the excerpt without markers."""
        return "".join(p for p, _ in self.parts)


def _spans(aligned: Aligned, terms: Sequence[Term], mode: str) -> list[tuple[int, int]]:
    """Return the merged original spans (grapheme-aligned) of every term occurrence."""
    spans = []
    for term in terms:
        for start in occurrences(term, aligned.text, mode):
            spans.append(aligned.span(start, start + len(term.norm)))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def snippet(text: str, terms: Sequence[Term], mode: str) -> Snippet:
    """Return an excerpt of ``text`` around its first match with every match highlighted.

    Cuts fall on grapheme boundaries, so emoji sequences and combining marks stay whole.
    """
    aligned = align(text)
    spans = _spans(aligned, terms, mode)
    bounds = aligned.grapheme_bounds
    count = len(bounds) - 1
    first = spans[0][0] if spans else 0
    g_first = max(0, bisect_right(bounds, first) - 1)
    g_lo = max(0, min(g_first - SNIPPET_BEFORE, count - SNIPPET_LENGTH))
    g_hi = min(count, g_lo + SNIPPET_LENGTH)
    lo, hi = bounds[g_lo], bounds[g_hi]
    parts: list[tuple[str, bool]] = []
    if lo > 0:
        parts.append(("…", False))
    pos = lo
    for a, b in spans:
        a, b = max(a, lo), min(b, hi)
        if a >= b:
            continue
        if a > pos:
            parts.append((text[pos:a], False))
        parts.append((text[a:b], True))
        pos = b
    if pos < hi:
        parts.append((text[pos:hi], False))
    if hi < len(text):
        parts.append(("…", False))
    return Snippet(tuple(parts))

"""Text normalisation for search, character classes, graphemes and offset alignment.

``normalise`` is the one definition of "the same text" for search: NFKC (full-width forms
become half-width, compatibility ideographs unified), case folding, and traditional →
simplified Chinese with OpenCC's ``t2s`` dictionaries applied **per character**. The
per-character form keeps matching context-free: a query finds exactly the characters that
are in the text, whatever surrounds them (OpenCC's phrase rules, e.g. 反覆 → 反复 while 覆
alone stays, would make a substring of the original text stop being a substring of the
normalised text).

Invariants:
- The indexer, the query compiler, the verifier and the test oracle all call ``normalise``;
  nothing else defines equivalence.
- ``align`` maps every character of the normalised text back to a span of the original
  text on grapheme boundaries, so a highlight never splits an emoji ZWJ sequence, a flag, a
  combining sequence or a Hangul syllable.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Final

import opencc

# Scripts written without spaces: cut into overlapping bigrams.
CJK_RANGES: Final[str] = (
    "\u3005\u3007\u3040-\u30ff\u3100-\u312f\u3190-\u31bf\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff"
)
_CJK_CLASS = f"[{CJK_RANGES}]"
_WORD_CLASS = f"[^\\W_{CJK_RANGES}]"
# One match per run: a CJK run (group 1) or a word run of letters and digits (group 2).
RUNS: Final[re.Pattern[str]] = re.compile(f"({_CJK_CLASS}+)|({_WORD_CLASS}+)")
WORD_CHAR: Final[re.Pattern[str]] = re.compile(_WORD_CLASS)
CJK_CHAR: Final[re.Pattern[str]] = re.compile(_CJK_CLASS)
_HAS_CJK: Final[re.Pattern[str]] = re.compile(_CJK_CLASS)
_HAS_FULLWIDTH: Final[re.Pattern[str]] = re.compile("[\uff01-\uff5e\u3000]")

# Exact shortcut for the commonest NFKC changes in Chinese text: full-width ASCII and the
# ideographic space map to their own NFKC forms, so NFKC(translate(s)) == NFKC(s).
_FULLWIDTH: Final[dict[int, int]] = {0xFF01 + i: 0x21 + i for i in range(0x5E)} | {0x3000: 0x20}


class _T2S(dict[int, int]):
    """Per-character traditional → simplified table, filled lazily from OpenCC."""

    def __init__(self) -> None:
        super().__init__()
        self._cc = opencc.OpenCC("t2s")

    def __missing__(self, code: int) -> int:
        ch = chr(code)
        out = code
        if CJK_CHAR.match(ch):
            seen = {ch}
            cur = ch
            for _ in range(4):  # follow chains to a fixed point, so mapping is idempotent
                nxt = self._cc.convert(cur)
                if len(nxt) != 1 or nxt in seen:
                    break
                seen.add(nxt)
                cur = nxt
            out = ord(cur)
        self[code] = out
        return out


_T2S_TABLE: Final[_T2S] = _T2S()


def normalise(text: str) -> str:
    """Return the search form of ``text``: NFKC, case-folded, simplified Chinese."""
    if text.isascii():
        return text.lower()
    if _HAS_FULLWIDTH.search(text):
        text = text.translate(_FULLWIDTH)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    if _HAS_CJK.search(text):
        text = text.translate(_T2S_TABLE)
    return text


def is_word_char(text: str, index: int) -> bool:
    """Return True when ``text[index]`` exists and is a letter or digit of a word run."""
    return 0 <= index < len(text) and WORD_CHAR.match(text, index) is not None


def is_symbol(ch: str) -> bool:
    """Return True for characters indexed one by one: emoji and other symbols (So, Sk…)."""
    return unicodedata.category(ch)[0] == "S"


# -- graphemes -----------------------------------------------------------------------------

_ZWJ: Final[str] = "\u200d"


def _extends(ch: str) -> bool:
    code = ord(ch)
    return (
        unicodedata.category(ch)[0] == "M"
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin tones
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (subdivision flags)
        or code == 0x200C
    )


def _jamo(ch: str) -> bool:
    return 0x1100 <= ord(ch) <= 0x11FF or 0xA960 <= ord(ch) <= 0xA97F or 0xD7B0 <= ord(ch) <= 0xD7FF


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


# Characters that never join a neighbour into one grapheme (no marks, ZWJ, CR, jamo,
# regional indicators or emoji modifiers among them): texts made only of these take the
# fast path. Anything else (emoji, Indic scripts…) takes the exact per-character walk.
_SIMPLE: Final[re.Pattern[str]] = re.compile(
    "[\x00-\x0c\x0e-\u02ff\u0370-\u0482\u048a-\u0590\u2000-\u200b\u200e-\u20cf"
    "\u2100-\u2cee\u3000-\u3029\u3030-\u3098\u309b-\u30ff\u3100-\u9fff"
    "\uac00-\ud7af\uff00-\uffef]*"
)


def graphemes(text: str) -> list[int]:
    """Return the start offsets of the user-perceived characters of ``text``, then len(text).

    A simplified UAX #29: combining marks, variation selectors, skin tones and tags stay with
    their base; ZWJ joins its neighbours; regional indicators pair into flags; CR LF and
    conjoining Hangul jamo stay together.
    """
    if _SIMPLE.fullmatch(text):
        return list(range(len(text) + 1))
    bounds = [0]
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        j = i + 1
        crlf = ch == "\r" and j < n and text[j] == "\n"
        if crlf or (_regional(ch) and j < n and _regional(text[j])):
            j += 1
        elif _jamo(ch):
            while j < n and _jamo(text[j]):
                j += 1
        while j < n:
            if _extends(text[j]):
                j += 1
            elif text[j] == _ZWJ:
                j += 2 if j + 1 < n else 1
            else:
                break
        i = min(j, n)
        bounds.append(i)
    return bounds


# -- alignment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Aligned:
    """A normalised text and, per normalised character, the original span it came from."""

    original: str
    text: str
    starts: list[int]
    ends: list[int]
    grapheme_bounds: list[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised span to the original span, widened to whole graphemes."""
        if end <= start:
            return (self.starts[start] if start < len(self.starts) else len(self.original),) * 2
        a, b = self.starts[start], self.ends[end - 1]
        return self.widen(a, b)

    def widen(self, a: int, b: int) -> tuple[int, int]:
        """Widen an original span to grapheme boundaries."""
        bounds = self.grapheme_bounds
        lo = bounds[max(0, bisect_right(bounds, a) - 1)]
        i = bisect_left(bounds, b)
        hi = bounds[i] if i < len(bounds) else len(self.original)
        return lo, hi


class _CharForms(dict[int, str]):
    """Per-character normal forms, filled lazily (a ``str.translate`` table)."""

    def __missing__(self, code: int) -> str:
        form = normalise(chr(code))
        if len(self) < 65536:
            self[code] = form
        return form


_CHAR_FORMS: Final[_CharForms] = _CharForms()


def align(original: str) -> Aligned:
    """Normalise ``original`` keeping a map from each normalised character to its source."""
    bounds = graphemes(original)
    whole = normalise(original)
    n = len(original)
    if original.isascii() or (
        len(whole) == n and original.translate(_CHAR_FORMS) == whole
    ):  # one character each (no character normalises to nothing): the identity map
        return Aligned(original, whole, list(range(n)), list(range(1, n + 1)), bounds)
    starts: list[int] = []
    ends: list[int] = []
    per_char = [_CHAR_FORMS[ord(ch)] for ch in original]
    if "".join(per_char) == whole:
        for i, form in enumerate(per_char):
            starts.extend([i] * len(form))
            ends.extend([i + 1] * len(form))
        return Aligned(original, whole, starts, ends, bounds)
    parts = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        piece = normalise(original[a:b])
        parts.append(piece)
        starts.extend([a] * len(piece))
        ends.extend([b] * len(piece))
    if "".join(parts) == whole:
        return Aligned(original, whole, starts, ends, bounds)
    # Normalisation joined across graphemes (rare): map everything to the whole text.
    m = len(whole)
    return Aligned(original, whole, [0] * m, [n] * m, bounds)

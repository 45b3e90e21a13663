"""Normalisation, graphemes and offset alignment (search/_text.py)."""

from __future__ import annotations

import pytest

from chatcustody.search import graphemes, normalise
from chatcustody.search._text import align


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("門禁卡讀卡器", "门禁卡读卡器"),  # traditional → simplified, per character
        ("反覆", "反覆"),  # no phrase rules: 覆 stays 覆 wherever it is
        ("８８４２", "8842"),  # full width → half width
        ("ＡＤＭＩＮ　Login", "admin login"),  # and the ideographic space, case folded
        ("Straße", "strasse"),
        ("ｶﾀｶﾅ", "カタカナ"),  # half-width katakana → full width
        ("①", "1"),
        ("plain ascii", "plain ascii"),
    ],
)
def test_normalise(raw: str, norm: str) -> None:
    """normalise applies NFKC, case folding and character-level t2s."""
    assert normalise(raw) == norm


def test_normalise_is_idempotent() -> None:
    """Normalising twice changes nothing (the t2s table follows chains to a fixed point)."""
    text = "乾隆皇帝的頭髮發財了，後來裡面的臺灣Ｃａｆé"
    assert normalise(normalise(text)) == normalise(text)


@pytest.mark.parametrize(
    ("text", "clusters"),
    [
        ("abc", ["a", "b", "c"]),
        ("👨‍👩‍👧x", ["👨‍👩‍👧", "x"]),
        ("🇨🇳🇺🇸", ["🇨🇳", "🇺🇸"]),
        ("👍🏽!", ["👍🏽", "!"]),
        ("e\u0301a", ["e\u0301", "a"]),
        ("❤️ok", ["❤️", "o", "k"]),
        ("\u1100\u1161\u11a8가", ["\u1100\u1161\u11a8", "가"]),
        ("a\r\nb", ["a", "\r\n", "b"]),
    ],
)
def test_graphemes(text: str, clusters: list[str]) -> None:
    """Grapheme bounds keep ZWJ sequences, flags, skin tones, marks and jamo whole."""
    b = graphemes(text)
    assert [text[x:y] for x, y in zip(b, b[1:], strict=False)] == clusters


def test_align_maps_back_to_whole_graphemes() -> None:
    """Every normalised character maps back to its source span, widened to graphemes."""
    original = "ＡＢ門禁👨‍👩‍👧Straße"
    a = align(original)
    assert a.text == "ab门禁👨‍👩‍👧strasse"
    i = a.text.index("门禁")
    assert original[slice(*a.span(i, i + 2))] == "門禁"
    j = a.text.index("👩")
    assert original[slice(*a.span(j, j + 1))] == "👨‍👩‍👧"
    k = a.text.index("ss")
    assert original[slice(*a.span(k, k + 1))] == "ß"

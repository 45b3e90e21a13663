"""Keyed tokens and what the index can answer exactly (search/_tokens.py, _plan.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from chatcustody.errors import UsageError
from chatcustody.search import TokenHasher, doc_tokens, normalise, parse, term_tokens
from chatcustody.search._plan import compile_plan

KEY = bytes(range(32))


def test_tokens_are_keyed_and_opaque() -> None:
    """Tokens depend on the key, hold no text, and are 10 lowercase base32 characters."""
    a = doc_tokens(TokenHasher(KEY), ("护卫队值班 admin 8842 🚴",), True)
    b = doc_tokens(TokenHasher(bytes(32)), ("护卫队值班 admin 8842 🚴",), True)
    assert a.positional and set(a.positional).isdisjoint(b.positional)
    for tok in a.positional + sorted(a.bag):
        assert len(tok) == 8 and tok.isascii() and tok.isalnum() and tok == tok.lower()
    # 4 bigrams + 2 words + symbol + attachment marker
    assert len(a.positional) == 8
    assert len(a.bag) == 5 + 3 + 1  # distinct characters, words and symbol, marker


@pytest.mark.parametrize(
    ("term", "exact", "phrase_len", "unigrams"),
    [
        ("护卫队", True, 2, 0),
        ("队", True, 0, 1),
        ("admin", True, 1, 0),
        ("🚴", True, 1, 0),
        ("订单8842", False, 2, 0),  # 订单 + 8842
        ("8842号", False, 1, 1),  # a single character has no bigram: the bag holds it
        ("护卫，卫队", False, 3, 0),  # 护卫 + run separator + 卫队
        ("admin login", False, 2, 0),
        ("#1", False, 1, 0),
    ],
)
def test_term_tokens(term: str, exact: bool, phrase_len: int, unigrams: int) -> None:
    """A term's phrase covers what must be consecutive; it is exact only for a single run."""
    tt = term_tokens(TokenHasher(KEY), normalise(term))
    assert (tt.exact, len(tt.phrase), len(tt.unigrams)) == (exact, phrase_len, unigrams)


def test_terms_without_tokens_are_refused() -> None:
    """Punctuation alone cannot be searched."""
    with pytest.raises(UsageError):
        term_tokens(TokenHasher(KEY), "，。")


def test_plans() -> None:
    """SQLite uses the positional table unless a term needs single characters; PG one tsquery."""
    h, zone = TokenHasher(KEY), ZoneInfo("UTC")
    assert compile_plan(h, parse("护卫队", zone), "exact", "sqlite").table == "search_fts"
    bag = compile_plan(h, parse("队 OR 护卫", zone), "exact", "sqlite")
    assert bag.table == "search_fts_bag" and not bag.exact
    assert compile_plan(h, parse("队", zone), "exact", "sqlite").exact
    assert not compile_plan(h, parse("护卫队", zone), "word", "sqlite").exact
    pg = compile_plan(h, parse("护卫队 -值班", zone), "exact", "postgresql")
    assert pg.exact and "<->" in (pg.match or "") and "!" in (pg.match or "")
    assert compile_plan(h, parse("type:text", zone), "exact", "sqlite").table is None

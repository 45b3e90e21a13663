"""Property tests: search equals a brute-force scan of the plaintext, and scope confines it."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import import_and_verify, message, write_jsonl
from tests.search.conftest import _shared_vault, oracle_matches, plaintext

from chatcustody.search import Scope, search
from chatcustody.vault import Vault

CJK = "护卫队值班门門禁卡读讀问問题題投诉訴外卖超时订单后後里裡发發台臺了的是在人"
LATIN = ["ab", "AB", "abc", "x", "42", "8842", "ＡＢ", "８８４２", "gate", "Gate3"]
EMOJI = ["🚴", "👍🏽", "👍", "👨‍👩‍👧", "🇨🇳", "✅"]
SEPS = [" ", "，", "。", ":", "-", "#", "  "]
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TO_TRAD = str.maketrans("门读问题诉后里发台", "門讀問題訴後裡發臺")
TO_FULL = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 9)):
        kind = rng.random()
        if kind < 0.55:
            parts.append("".join(rng.choice(CJK) for _ in range(rng.randint(1, 5))))
        elif kind < 0.75:
            parts.append(rng.choice(LATIN))
        elif kind < 0.85:
            parts.append(rng.choice(EMOJI))
        else:
            parts.append(rng.choice(SEPS))
    return "".join(parts) or "好"


class Corpus(tuple):  # type: ignore[type-arg]
    """(vault, plaintext by id) with a short repr for hypothesis reports."""

    def __repr__(self) -> str:
        return f"<corpus of {len(self[1])} records on {self[0].engine.dialect.name}>"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A vault of 300 random messages in 5 conversations over two days, and its plaintext."""
    rng = random.Random(20260314)
    msgs = []
    for i in range(300):
        conv = rng.randrange(5)
        msgs.append(
            message(
                conversation_id=f"conv-{conv}",
                conversation_name=f"会话{conv}",
                message_id=f"p-{i}",
                sender_id=f"user-{rng.randrange(7)}",
                sender_name=f"用户{rng.randrange(7)}",
                timestamp=1_773_400_000_000 + rng.randrange(172_800) * 1000,
                text=_text(rng),
            )
        )
    path = write_jsonl(tmp_path_factory.mktemp("corpus") / "corpus.jsonl", msgs)
    for v in _shared_vault(request, Path(str(tmp_path_factory.mktemp("corpus-vault")))):
        import_and_verify(v, path)
        yield Corpus((v, plaintext(v)))


def _all_ids(
    vault: Vault, query: str, scope: Scope | None = None, mode: str = "exact"
) -> list[int]:
    result = search(vault, query, limit=10_000, scope=scope, mode=mode, audit=False)
    assert result.total == len(result.hits) and result.total_is_exact
    return [h.id for h in result.hits]


def _brute(records: dict[int, dict[str, Any]], term: str, mode: str = "exact") -> set[int]:
    return {rid for rid, f in records.items() if oracle_matches(term, f["text"], mode)}


def _variant(text: str, how: int) -> str:
    if how == 1:
        return text.translate(TO_TRAD)
    if how == 2:
        return "".join(TO_FULL.get(c, c) for c in text)
    return text


def _quoted(term: str) -> str:
    return '"' + term + '"'


def _has_index_token(term: str) -> bool:
    return any(c.isalnum() or unicodedata.category(c)[0] == "S" for c in term)


@SETTINGS
@given(data=st.data())
def test_random_substrings_equal_brute_force(corpus: Any, data: st.DataObject) -> None:
    """Any substring of any message (also traditional/full-width) finds exactly the scan's set."""
    vault, records = corpus
    rid = data.draw(st.sampled_from(sorted(records)))
    text = records[rid]["text"]
    start = data.draw(st.integers(0, max(0, len(text) - 1)))
    term = text[start : start + data.draw(st.integers(1, 6))]
    term = _variant(term, data.draw(st.integers(0, 2)))
    if not _has_index_token(term) or '"' in term or not term.strip():
        return
    found = _all_ids(vault, _quoted(term))
    assert found == sorted(found, key=lambda i: (-records[i]["_row"]["ts_ms"], -i))
    assert set(found) == _brute(records, term), term


@SETTINGS
@given(pieces=st.lists(st.sampled_from([*CJK, *"ab428 ＡＢ", *EMOJI]), min_size=1, max_size=4))
def test_random_strings_equal_brute_force(corpus: Any, pieces: list[str]) -> None:
    """Short random strings (mostly misses) match the scan, in exact and word mode."""
    vault, records = corpus
    term = "".join(pieces)
    if not _has_index_token(term) or not term.strip():
        return
    assert set(_all_ids(vault, _quoted(term))) == _brute(records, term)
    assert set(_all_ids(vault, _quoted(term), mode="word")) == _brute(records, term, "word")


@SETTINGS
@given(
    a=st.sampled_from(["门禁", "投诉", "8842", "ab", "🚴", "卡", "值班人", "AB"]),
    b=st.sampled_from(["超时", "订单", "gate", "了", "👍", "后", "x"]),
    c=st.sampled_from(["的", "门", "42", "是在", "✅"]),
)
def test_or_and_exclusion_equal_set_algebra(corpus: Any, a: str, b: str, c: str) -> None:
    """'a OR b -c' and 'a b' return the brute-force union minus and intersection."""
    vault, records = corpus
    ra, rb, rc = _brute(records, a), _brute(records, b), _brute(records, c)
    assert set(_all_ids(vault, f"{a} OR {b} -{c}")) == (ra | rb) - rc
    assert set(_all_ids(vault, f"{a} {b}")) == ra & rb


@SETTINGS
@given(
    convs=st.frozensets(st.integers(1, 5), max_size=5),
    lo=st.integers(0, 172_800),
    span=st.integers(0, 172_800),
    term=st.sampled_from(["门", "门禁", "ab", "8842", "🚴", "了 OR 的", "-卡 type:text"]),
)
def test_scope_never_leaks(
    corpus: Any, convs: frozenset[int], lo: int, span: int, term: str
) -> None:
    """A scoped search returns exactly the in-scope matches and nothing outside the scope."""
    vault, records = corpus
    after = 1_773_400_000_000 + lo * 1000
    scope = Scope(convs, after, after + span * 1000)
    found = set(_all_ids(vault, term, scope=scope))
    for rid in found:
        row = records[rid]["_row"]
        assert row["conversation_id"] in convs and after <= row["ts_ms"] < after + span * 1000
    unscoped = set(_all_ids(vault, term))
    inside = {
        rid
        for rid, f in records.items()
        if f["_row"]["conversation_id"] in convs
        and after <= f["_row"]["ts_ms"] < after + span * 1000
    }
    assert found == unscoped & inside

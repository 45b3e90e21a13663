"""tag:NAME in the query language: parsed, resolved to record ids, applied before decryption."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from tests.people import actor, make_user
from tests.search.conftest import ids, oracle, plaintext

from chatcustody.access import Role
from chatcustody.errors import UsageError
from chatcustody.search import Scope, parse, run_search, search
from chatcustody.search import _search as search_mod
from chatcustody.store import schema as t
from chatcustody.tags import add_tag
from chatcustody.vault import Vault

ZONE = ZoneInfo("Asia/Shanghai")


def test_tag_filters_parse() -> None:
    """tag:NAME (quoted too) is a filter, repeated tags all hold, bad names are refused."""
    q = parse('tag:紧急 tag:"复核" 巡逻 tag:紧急', ZONE)
    assert q.tags == ["紧急", "复核"]
    assert [[x.text for x in c] for c in q.clauses] == [["巡逻"]]
    assert q.describe()["tag"] == ["紧急", "复核"]
    assert parse("-tag:紧急", ZONE).excluded[0].text == "tag:紧急"  # a negated word, not a filter
    for bad in ("tag:", 'tag:"a b"', "tag:a:b"):
        with pytest.raises(UsageError, match="tag"):
            parse(bad, ZONE)


def _tag(vault: Vault, marks: dict[str, list[int]]) -> None:
    make_user(vault, "legal", Role.LEGAL)
    who = actor(vault, "legal")
    for name, records in marks.items():
        for rid in records:
            add_tag(vault, who, rid, name)


def test_tag_search_is_scoped_and_checked_before_decryption(
    sample: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tag: finds exactly the marked records, with words, other tags and a scope."""
    with sample.engine.connect() as conn:
        rows = {int(r.id): r for r in conn.execute(select(t.records))}
    _tag(sample, {"紧急": [1, 2, 4, 9], "复核": [2, 4, 5], "Urgent": [9]})
    newest_first = sorted(rows, key=lambda r: (rows[r].ts_ms, r), reverse=True)
    assert ids(search(sample, "tag:紧急", audit=False)) == [
        r for r in newest_first if r in {1, 2, 4, 9}
    ]
    assert set(ids(search(sample, "tag:紧急 tag:复核", audit=False))) == {2, 4}
    assert ids(search(sample, "tag:ＵＲＧＥＮＴ", audit=False)) == [9]  # full width, any case
    assert search(sample, "tag:无此标签", audit=False).total == 0
    texts = {rid: f["text"] for rid, f in plaintext(sample).items()}
    word = texts[4][:2]  # a word of a tagged record, perhaps in other records too
    want = oracle(sample, word) & {1, 2, 4, 9}
    assert 4 in want and len(oracle(sample, word)) >= len(want)
    assert set(ids(search(sample, f"{word} tag:紧急", audit=False))) == want
    opened: list[int] = []
    real = search_mod.open_fields

    def spy(vault: Vault, conn: Any, row: Any) -> dict[str, Any]:
        opened.append(int(row["id"]))
        return real(vault, conn, row)

    monkeypatch.setattr(search_mod, "open_fields", spy)
    conv = int(rows[2].conversation_id)
    scope = Scope(frozenset({conv}))
    result = run_search(sample, parse("tag:紧急", ZONE), scope=scope)
    inside = {r for r in (1, 2, 4, 9) if int(rows[r].conversation_id) == conv}
    assert set(ids(result)) == inside and result.total == len(inside)
    assert set(opened) <= inside  # nothing untagged or out of scope was decrypted
    record_scope = Scope(record_ids=frozenset({4, 5}))
    assert ids(run_search(sample, parse("tag:复核 tag:紧急", ZONE), scope=record_scope)) == [4]

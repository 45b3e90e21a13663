"""The query language parser (search/_query.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from chatcustody.errors import UsageError
from chatcustody.search import parse

ZONE = ZoneInfo("Asia/Shanghai")


def test_terms_phrases_or_and_exclusions() -> None:
    """Words AND together, OR binds alternatives, quotes (also “” and 「」) make phrases."""
    q = parse('护卫队 "admin login" a OR “c d” OR 「投訴」 -退款 -"x y"', ZONE)
    assert [[t.text for t in c] for c in q.clauses] == [
        ["护卫队"],
        ["admin login"],
        ["a", "c d", "投訴"],
    ]
    assert [t.norm for t in q.clauses[2]] == ["a", "c d", "投诉"]
    assert [t.text for t in q.excluded] == ["退款", "x y"]


def test_filters() -> None:
    """from/in/type/after/before/has parse, with quoted values and repeated filters."""
    q = parse(
        'from:"客服A（王敏）" from:kefu_b in:客户C type:image,file type:voice '
        "after:2026-03-14 before:2026-03-14T16:00 has:attachment 08:30",
        ZONE,
    )
    assert q.senders == ["客服A（王敏）", "kefu_b"] and q.conversations == ["客户C"]
    assert q.types == ["image", "file", "voice"] and q.has_attachment
    assert q.after_ms == 1_773_417_600_000  # 2026-03-14T00:00+08:00
    assert q.before_ms == 1_773_475_200_000  # 16:00+08:00
    assert [t.text for t in q.clauses[0]] == ["08:30"]  # not a filter: unknown key


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("2026-03-14T14:20", 1_773_469_200_000),
        ("2026-03-14 14:20", 1_773_469_200_000),
        ("2026-03-14T06:20Z", 1_773_469_200_000),
        ("2026-03-14T14:20+08:00", 1_773_469_200_000),
        ("2026-03-14T14:20:30", 1_773_469_230_000),
    ],
)
def test_times_are_read_in_the_vault_zone_unless_given(value: str, ms: int) -> None:
    """Date-times are minute precision or finer, in the vault zone unless they carry one."""
    assert parse(f'after:"{value}"', ZONE).after_ms == ms


@pytest.mark.parametrize(
    "text",
    ["OR", "a OR", "OR a", "a OR OR b", "a OR -b", "a OR from:x", "type:x", "has:link",
     "after:", "after:2026-13-01", "before:2026-03-14T14", '"open', "from:"],
)  # fmt: skip
def test_malformed(text: str) -> None:
    """Malformed queries raise UsageError."""
    with pytest.raises(UsageError):
        parse(text, ZONE)

"""The search service on both backends: query language, normalisation, order, pages, totals."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, select
from tests.conftest import conversation, import_and_verify, message
from tests.search.conftest import ids, oracle, plaintext

from chatcustody import search as search_pkg
from chatcustody.audit import read_audit
from chatcustody.errors import UsageError
from chatcustody.search import Scope, matching_ids, run_search, search
from chatcustody.search import _search as search_mod
from chatcustody.store import schema as t
from chatcustody.vault import Vault


def texts(result: Any) -> list[str]:
    """Return the texts of a result's hits, in order."""
    return [h.text for h in result.hits]


def q(vault: Vault, query: str, **kw: Any) -> Any:
    """Search without writing an audit event."""
    return search(vault, query, audit=False, **kw)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("投诉", {"外卖已经超时四十分钟了！我要投诉，饭都凉了。"}),
        ("门禁卡", {"8號門的門禁卡讀卡器有點問題，誰能看一下？"}),
        ("8842", None),
        ("complaint", {"Customer #8842 escalated a late-delivery complaint, can the guard "
                       "team check CCTV at gate 3?"}),
        ('"admin login"', {"Log exported: admin login from 10.2.3.4 at 08:47."}),
        ("IP是", {"这个IP是三楼财务室的终端。"}),
        ("🚴", {"在路上了，前面堵车，大概还要二十分钟 🚴"}),
        ("财务室", {"这个IP是三楼财务室的终端。", "财务室今天早上有人吗？"}),
    ],
)  # fmt: skip
def test_terms_find_exactly_what_a_scan_finds(
    shared_sample: Vault, query: str, expected: Any
) -> None:
    """Words, phrases, mixed scripts and emoji return exactly the brute-force matches."""
    sample = shared_sample
    result = q(sample, query)
    assert set(ids(result)) == oracle(sample, query.strip('"'))
    if expected is not None:
        assert set(texts(result)) == expected
    assert result.total == len(result.hits) and result.total_is_exact


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("门禁", "門禁"),  # simplified ↔ traditional
        ("投诉", "投訴"),
        ("问题", "問題"),
        ("8842", "８８４２"),  # half ↔ full width
        ("full-width", "ｆｕｌｌ－ｗｉｄｔｈ"),
        ("ADMIN", "admin"),  # case
    ],
)
def test_variants_find_each_other(shared_sample: Vault, a: str, b: str) -> None:
    """Traditional/simplified, full/half width and case variants give the same hits."""
    sample = shared_sample
    assert ids(q(sample, a)) == ids(q(sample, b))
    assert ids(q(sample, a))


def test_one_and_two_character_queries(shared_sample: Vault) -> None:
    """A single character and a single bigram are found wherever they occur."""
    sample = shared_sample
    for query in ("班", "门", "卡", "吗", "人", "巡逻", "收到", "们"):
        assert set(ids(q(sample, query))) == oracle(sample, query), query


def test_latin_words_and_numbers_match_whole(shared_sample: Vault) -> None:
    """ "8842" finds 8842 and ８８４２ but "884" finds nothing; words are not prefixes."""
    sample = shared_sample
    assert q(sample, "884").hits == []
    assert q(sample, "deliv").hits == []
    assert len(q(sample, "8842").hits) == 3
    assert len(q(sample, "late-delivery").hits) == 1


def test_or_and_exclusion(shared_sample: Vault) -> None:
    """OR gives alternatives, -term removes, and AND is implicit."""
    sample = shared_sample
    either = q(sample, "堵车 OR 退款")
    assert set(ids(either)) == oracle(sample, "堵车") | oracle(sample, "退款")
    both = q(sample, "订单 8842")
    assert set(ids(both)) == oracle(sample, "订单") & oracle(sample, "8842")
    without = q(sample, '8842 -"订单号"')
    assert set(ids(without)) == oracle(sample, "8842") - oracle(sample, "订单号")
    assert set(ids(q(sample, "8842 -订"))) == oracle(sample, "8842") - oracle(sample, "订")


def test_from_and_in_resolve_ids_and_names(shared_sample: Vault) -> None:
    """from:/in: accept source ids and parts of display names or titles."""
    sample = shared_sample
    by_id = q(sample, "from:kefu_a")
    by_name = q(sample, "from:王敏")
    assert ids(by_id) == ids(by_name) and len(by_id.hits) == 3
    assert {h.sender_id for h in by_id.hits} == {"kefu_a"}
    in_title = q(sample, "in:客户C投诉")
    in_id = q(sample, "in:wrOgQhDgAAcustomerC")
    assert ids(in_title) == ids(in_id) and len(in_id.hits) == 4
    assert q(sample, "in:nobody-here").hits == []
    assert ids(q(sample, "收到", senders=["钱勇"])) == ids(q(sample, "收到 from:qian_guard"))


def test_type_time_and_attachment_filters(shared_sample: Vault) -> None:
    """type:, after:/before: (vault zone, to the minute) and has:attachment filter in SQL."""
    sample = shared_sample
    images = q(sample, "type:image")
    assert [h.type for h in images.hits] == ["image"]
    assert q(sample, "has:attachment").hits[0].attachments == ("超时截图.jpg",)
    window = q(sample, "after:2026-03-20T08:40 before:2026-03-20T08:45")
    assert [h.time[11:16] for h in window.hits] == ["08:44", "08:43", "08:42", "08:41", "08:40"]
    utc = q(sample, "after:2026-03-20T00:40Z before:2026-03-20T00:45Z")
    assert ids(utc) == ids(window)
    assert ids(q(sample, "type:recall")) == ids(q(sample, "撤回"))
    both = q(sample, "", after="2026-03-14", before="2026-03-15", types=["text"])
    assert len(both.hits) == 9  # 3 rider chat + 3 customer C texts + 3 Slack


def test_newest_first_oldest_and_iso_times(shared_sample: Vault) -> None:
    """Hits are newest first by default, oldest first on request, times in their own offset."""
    sample = shared_sample
    newest = q(sample, "8842")
    oldest = q(sample, "8842", oldest=True)
    assert ids(newest) == list(reversed(ids(oldest)))
    assert [h.ts_ms for h in newest.hits] == sorted((h.ts_ms for h in newest.hits), reverse=True)
    slack = [h for h in newest.hits if h.platform == "slack"][0]
    assert slack.time.endswith("+00:00")
    wecom = [h for h in newest.hits if h.platform == "wecom"][0]
    assert wecom.time == "2026-03-14T14:20:05.000+08:00"


def test_pages_and_cursor_cover_everything_once(vault: Vault, jsonl: Any) -> None:
    """Cursor pages in both orders return every match exactly once, in order."""
    msgs = conversation(23)
    msgs += [
        message(message_id=f"x{i}", text=f"巡逻 {i}", timestamp=1_773_970_210_500) for i in range(4)
    ]
    import_and_verify(vault, jsonl(msgs))
    for oldest in (False, True):
        seen: list[int] = []
        cursor = None
        while True:
            page = q(vault, "巡逻", limit=5, oldest=oldest, cursor=cursor)
            assert page.total == 27 and page.total_is_exact
            seen += ids(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(set(seen)) and len(seen) == 27
        full = q(vault, "巡逻", limit=100, oldest=oldest)
        assert seen == ids(full)
    assert matching_ids(vault, "巡逻") == ids(q(vault, "巡逻", limit=100))
    with pytest.raises(UsageError, match="other sort order"):
        q(vault, "巡逻", oldest=True, cursor=q(vault, "巡逻", limit=5).next_cursor)
    with pytest.raises(UsageError, match="invalid cursor"):
        q(vault, "巡逻", cursor="!!")


def test_total_is_exact_up_to_the_cap(
    vault: Vault, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the cap the total stops there and says it is not exact, for both plan kinds."""
    import_and_verify(vault, jsonl(conversation(30)))
    monkeypatch.setattr(search_mod, "TOTAL_CAP", 10)
    for query, mode in (("巡逻", "exact"), ("巡逻正常", "word"), ('"巡逻正常 #"', "exact")):
        r = q(vault, query, limit=3, mode=mode)
        assert (r.total, r.total_is_exact) == (10, False), query
    exact = q(vault, "#29")
    assert (exact.total, exact.total_is_exact) == (1, True)


def test_word_mode_needs_whole_words(vault: Vault, jsonl: Any) -> None:
    """Word mode matches jieba words only; exact mode matches any substring."""
    import_and_verify(vault, jsonl([message(text="护卫队今晚值班，北京天安门广场")]))
    assert len(q(vault, "卫队").hits) == 1
    assert q(vault, "卫队", mode="word").hits == []
    assert len(q(vault, "护卫队", mode="word").hits) == 1
    assert len(q(vault, "值班", mode="word").hits) == 1
    with pytest.raises(UsageError):
        q(vault, "x", mode="fuzzy")


def test_snippets_highlight_cjk_emoji_and_mixed_scripts(vault: Vault, jsonl: Any) -> None:
    """Snippets mark every match and never split a grapheme (ZWJ families, flags, accents)."""
    msgs = [
        message(message_id="a", text="一家人👨‍👩‍👧到了，🇨🇳国旗，Café crème 已送达"),
        message(message_id="b", text="外卖" + "很" * 100 + "超时了，真的超时了"),
        message(message_id="c", text="請查看門禁卡 and ＡＤＭＩＮ login"),
    ]
    import_and_verify(vault, jsonl(msgs))
    family = q(vault, "👩").hits[0].snippet
    assert "⟪👨‍👩‍👧⟫" in family.marked()
    assert "⟪🇨🇳⟫" in q(vault, "🇨🇳").hits[0].snippet.marked()
    assert "⟪Café⟫" in q(vault, "café").hits[0].snippet.marked()
    long = q(vault, "超时").hits[0].snippet.marked()
    assert long.startswith("…") and long.count("⟪超时⟫") == 2
    mixed = q(vault, "门禁 admin").hits[0].snippet.marked()
    assert mixed == "請查看⟪門禁⟫卡 and ⟪ＡＤＭＩＮ⟫ login"


def test_scope_is_applied_before_decryption(
    shared_sample: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scoped search opens no record outside the scope and returns none."""
    sample = shared_sample
    with sample.engine.connect() as conn:
        rows = {int(r.id): r for r in conn.execute(select(t.records))}
    customer_c = int(rows[4].conversation_id)  # 客户C投诉, 14:35–16:45 on 2026-03-14
    scope = Scope(frozenset({customer_c}), 1_773_470_000_000, 1_773_480_000_000)
    opened: list[int] = []
    real = search_mod.open_fields

    def spy(vault: Vault, conn: Any, row: Any) -> dict[str, Any]:
        opened.append(int(row["id"]))
        return real(vault, conn, row)

    monkeypatch.setattr(search_mod, "open_fields", spy)
    result = run_search(sample, search_pkg.parse("了 OR 8842", sample_zone(sample)), scope=scope)
    inside = {
        rid for rid, r in rows.items()
        if int(r.conversation_id) in scope.conversation_ids
        and scope.after_ms <= r.ts_ms < scope.before_ms
    }  # fmt: skip
    assert opened and set(opened) <= inside
    assert set(ids(result)) <= inside and len(result.hits) == 2
    assert q(sample, "8842", scope=Scope(frozenset())).hits == []


def sample_zone(vault: Vault) -> Any:
    """Return the vault's zone."""
    from zoneinfo import ZoneInfo

    return ZoneInfo(vault.default_tz)


def test_search_is_audited(sample: Vault) -> None:
    """Each search appends a search.run audit event with the query and the hit ids."""
    result = search(sample, "投诉 OR complaint", conversations=["客户C"])
    events = list(read_audit(sample, "search."))
    assert len(events) == 1
    details = events[0].details
    assert details["query"] == "投诉 OR complaint"
    assert details["filters"]["in"] == ["客户C"]
    assert details["hit_ids"] == ids(result) and details["total"] == 1


@pytest.mark.parametrize(
    "query",
    ["", "OR", "a OR", "OR b", "a OR -b", "type:hologram", "after:yesterday", "has:link",
     "after:2026-03-14T14", '"unclosed', "，，", "-"],
)  # fmt: skip
def test_malformed_queries_are_usage_errors(shared_sample: Vault, query: str) -> None:
    """Malformed queries raise UsageError (exit 2) naming the problem."""
    sample = shared_sample
    with pytest.raises(UsageError):
        q(sample, query)


def test_oversize_records_are_checked_directly(
    vault: Vault, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record too long for the index is still found, counted and verified."""
    from chatcustody.search import _tokens
    from chatcustody.verify import verify_vault

    monkeypatch.setattr(_tokens, "MAX_DOC_TOKENS", 20)
    long_text = "值班记录：" + "正常巡逻，" * 10 + "发现可疑人员"
    import_and_verify(
        vault, jsonl([message(text=long_text), message(message_id="m-2", text="可疑人员")])
    )
    with vault.engine.connect() as conn:
        assert [r.id for r in conn.execute(select(t.search_oversize))] == [1]
    r = q(vault, "可疑人员")
    assert ids(r) == [2, 1] or ids(r) == [1, 2]
    assert (r.total, r.total_is_exact) == (2, True)
    assert verify_vault(vault).ok


def test_vault_from_before_the_index_asks_for_reindex(vault: Vault, jsonl: Any) -> None:
    """Records stored before migration 0003 make search refuse until reindex runs."""
    import_and_verify(vault, jsonl(conversation(3)))
    with vault.begin() as conn:
        conn.execute(insert(t.vault_meta).values(key="search_reindex_required", value="1"))
    with pytest.raises(UsageError, match="reindex"):
        q(vault, "巡逻")
    search_pkg.reindex(vault)
    assert len(q(vault, "巡逻").hits) == 3


def test_plaintext_helper_sees_every_record(shared_sample: Vault) -> None:
    """The oracle reads all 27 sample records (guards the brute-force comparisons above)."""
    sample = shared_sample
    assert len(plaintext(sample)) == 27

"""Search benchmark: build a vault of N synthetic messages, run >= 300 queries, check each.

Usage::

    .venv/bin/python bench/search_bench.py --n 100000 [--pg postgresql://…] [--queries 360]

For each backend it builds a vault through the real ingest path (four chatcustody-jsonl
exports, each a group of conversations over the same six months, so record ids are not in
time order), then for every query:

- fetches every result (cursor pages of up to 10 000) and compares the set with a
  brute-force scan of the plaintext held in memory — recall and precision must be 100%,
  the first page must be the scan's newest 50, the total must be exact up to the cap;
- times the first page of 50 hits (``took_ms``, measured inside the service, no audit).

Query mix: 1–6 CJK characters (common and rare), English words (common and rare), mixed
CJK/Latin/digits, traditional and full-width variants, OR and exclusions, misses, and the
filters in:, from:, type:, after:/before:, has:attachment. Baseline measured in the same run:
the brute-force scan of the in-memory plaintext (no decryption, so optimistic) and an
estimate of scanning the vault by decrypting every record. Prints p50/p95/p99, the index
size and its ratio to the plaintext, and writes bench/results/search.json.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import json
import random
import re
import statistics
import sys
import tempfile
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opencc
import psycopg
from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import _EN, RESULTS, cpu_seconds, peak_rss_mb, write_results  # noqa: E402

from chatcustody.ingest import import_file  # noqa: E402
from chatcustody.search import (  # noqa: E402
    TOTAL_CAP,
    TokenHasher,
    doc_tokens,
    matching_ids,
    normalise,
    open_fields,
    parse,
    search,
)
from chatcustody.settings import Settings  # noqa: E402
from chatcustody.store import schema as t  # noqa: E402
from chatcustody.vault import Vault  # noqa: E402

START_MS = 1_767_196_800_000  # 2026-01-01T00:00+08:00
PERIOD_MS = 180 * 86_400_000
EXPORTS = 4
_DOMAIN = [
    "护卫队",
    "值班",
    "巡逻",
    "交接",
    "监控",
    "门禁",
    "异常",
    "登录",
    "客户",
    "投诉",
    "订单",
    "配送",
    "超时",
    "退款",
    "骑手",
    "客服",
    "组长",
    "法务",
    "审批",
    "调取",
    "证据",
    "记录",
    "聊天",
    "系统",
    "预警",
    "处理",
    "完成",
    "收到",
    "请示",
    "汇报",
    "安保",
    "停车场",
    "大堂",
    "电梯",
    "消防",
    "演练",
    "报警",
    "钥匙",
    "访客",
    "登记",
    "快递",
    "包裹",
    "夜班",
    "早班",
    "主管",
    "经理",
    "财务室",
    "机房",
    "服务器",
    "日志",
    "导出",
    "核对",
    "问题",
    "请问",
    "谢谢",
    "好的",
    "马上",
    "现在",
    "已经",
    "我们",
    "你们",
    "他们",
    "今天",
    "明天",
    "下午",
    "上午",
    "晚上",
    "到了",
    "没有",
    "可以",
]
_EN_COMMON = [*_EN, "ok"]  # the generator's English words, plus a very common one
_EN_RARE = ["xylophone", "quokka", "zephyr", "juxtapose", "kumquat", "fjord", "sphinx", "vortex"]
_EMOJI = ["👌", "🚓", "✅", "⚠️", "🙏", "😂", "👮", "📦", "👍🏽", "👨‍👩‍👧"]
_TYPES = ["text"] * 90 + ["image"] * 4 + ["file"] * 2 + ["voice"] * 2 + ["link", "video"]


def _gb2312_level1() -> list[str]:
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.append(bytes([hi, lo]).decode("gb2312"))
    return chars


@dataclass
class Msg:
    """One generated message and the facts the brute-force scan needs."""

    conv: int
    sender: int
    ts_ms: int
    type: str
    text: str
    attachment: str | None


class Corpus:
    """Zipf-distributed synthetic chat, mostly Chinese, some English, digits and emoji."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        chars = _gb2312_level1()
        self.rng.shuffle(chars)
        words = set(_DOMAIN)
        while len(words) < 40_000:
            k = self.rng.choice((1, 2, 2, 2, 2, 3, 3, 4))
            pool = chars[:1500] if self.rng.random() < 0.85 else chars
            words.add("".join(self.rng.choice(pool) for _ in range(k)))
        vocab = sorted(words)
        self.rng.shuffle(vocab)
        vocab = _DOMAIN + [w for w in vocab if w not in _DOMAIN]
        self.vocab = vocab
        self.cum = list(itertools.accumulate(1 / (i + 8) for i in range(len(vocab))))
        self.s2t = opencc.OpenCC("s2t")

    def text(self) -> str:
        """Return one message text."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.12:
            n = rng.randint(3, 10)
            words = [
                rng.choice(_EN_RARE) if rng.random() < 0.002 else rng.choice(_EN_COMMON)
                for _ in range(n)
            ]
            out = " ".join(words).capitalize() + rng.choice([".", "!", "?", ""])
        else:
            parts: list[str] = []
            for w in rng.choices(self.vocab, cum_weights=self.cum, k=rng.randint(1, 9)):
                parts.append(w)
                r = rng.random()
                if r < 0.10:
                    parts.append(rng.choice("，。！？ "))
                elif r < 0.13:
                    parts.append(f"{rng.randint(1, 99999)}")
                elif r < 0.15:
                    parts.append(f" {rng.choice(_EN_COMMON)} ")
                elif r < 0.16:
                    parts.append(f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}")
            out = "".join(parts) + rng.choice(["。", "！", "？", "", "，请确认。", "~"])
        if rng.random() < 0.06:
            out += rng.choice(_EMOJI)
        r = rng.random()
        if r < 0.05:
            out = self.s2t.convert(out)
        elif r < 0.08:
            out = "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else c for c in out)
        return out

    def messages(self, n: int) -> list[list[Msg]]:
        """Return ``EXPORTS`` exports, each a group of conversations in time order."""
        rng = self.rng
        convs = max(20, n // 2000)
        senders = max(50, n // 500)
        members = {c: rng.sample(range(senders), rng.randint(2, 8)) for c in range(convs)}
        exports: list[list[Msg]] = [[] for _ in range(EXPORTS)]
        for _ in range(n):
            conv = rng.randrange(convs)
            kind = rng.choice(_TYPES)
            text_ = self.text() if kind in ("text", "link") else f"[{kind}]"
            att = None
            if kind in ("image", "file", "video", "voice"):
                att = rng.choice(["监控截图", "IMG", "现场照片", "report", "录音", "工单"])
                att += (
                    f"_{rng.randint(1, 9999)}."
                    + {"image": "jpg", "file": "pdf", "video": "mp4", "voice": "amr"}[kind]
                )
            ts = START_MS + rng.randrange(PERIOD_MS)
            exports[conv % EXPORTS].append(
                Msg(conv, rng.choice(members[conv]), ts, kind, text_, att)
            )
        for e in exports:
            e.sort(key=lambda m: m.ts_ms)
        return exports


def write_exports(exports: list[list[Msg]], folder: Path) -> list[Path]:
    """Write each export as chatcustody-jsonl; return the paths."""
    paths = []
    for i, msgs in enumerate(exports):
        path = folder / f"export-{i}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for j, m in enumerate(msgs):
                obj: dict[str, Any] = {
                    "platform": "wecom",
                    "conversation_id": f"conv-{m.conv}",
                    "conversation_name": f"会话{m.conv}号群",
                    "conversation_kind": "group",
                    "message_id": f"e{i}-{j}",
                    "sender_id": f"user-{m.sender}",
                    "sender_name": f"员工{m.sender}",
                    "timestamp": m.ts_ms,
                    "type": m.type,
                    "text": m.text,
                }
                if m.attachment:
                    obj["attachments"] = [{"name": m.attachment, "included": False}]
                f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


# -- brute force ----------------------------------------------------------------------------


def _cjk(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(
        ("CJK UNIFIED", "CJK COMPATIBILITY", "HIRAGANA", "KATAKANA", "HANGUL")
    )


def _wordish(ch: str) -> bool:
    return ch.isalnum() and not _cjk(ch)


def scan_match(q: str, s: str) -> bool:
    """Brute force over normalised text: substring; Latin words and numbers whole."""
    i = s.find(q)
    while i >= 0:
        j = i + len(q)
        if not (_wordish(q[0]) and i > 0 and _wordish(s[i - 1])) and not (
            _wordish(q[-1]) and j < len(s) and _wordish(s[j])
        ):
            return True
        i = s.find(q, i + 1)
    return False


class Scanner:
    """The plaintext oracle: every message normalised once; occurrences found with str.find.

    The definition of a match is re-implemented here (``scan_match``), independently of the
    index and of ``chatcustody.search._match``; filters use the generator's own metadata.
    """

    def __init__(self, msgs: list[Msg]) -> None:
        self.msgs = msgs
        self.norm = [normalise(m.text) for m in msgs]
        self.att = [normalise(m.attachment) if m.attachment else "" for m in msgs]
        # One string per field, records separated by \x00, to find occurrences at C speed.
        self.blobs = ["\x00".join(self.norm), "\x00".join(self.att)]
        self.starts = []
        for field in (self.norm, self.att):
            pos, starts = 0, []
            for t_ in field:
                starts.append(pos)
                pos += len(t_) + 1
            self.starts.append(starts)

    def term_ids(self, q: str) -> set[int]:
        """Return the indexes of messages whose text or attachment name matches ``q``."""
        out: set[int] = set()
        for field, blob, starts in zip((self.norm, self.att), self.blobs, self.starts, strict=True):
            i = blob.find(q)
            while i >= 0:
                k = bisect.bisect_right(starts, i) - 1
                if k not in out and scan_match(q, field[k]):
                    out.add(k)
                i = blob.find(q, i + 1)
        return out

    def run(self, query: str, zone: Any) -> list[int]:
        """Return matching record ids (1-based, import order), newest first."""
        q = parse(query, zone)
        conv = {int(v.split("-")[1]) for v in q.conversations} or None
        send = {int(v.split("-")[1]) for v in q.senders} or None
        types = set(q.types) or None
        cache: dict[str, set[int]] = {}

        def ids(term: Any) -> set[int]:
            if term.norm not in cache:
                cache[term.norm] = self.term_ids(term.norm)
            return cache[term.norm]

        if q.clauses:
            pool = set.intersection(*(set().union(*(ids(t_) for t_ in c)) for c in q.clauses))
        else:
            pool = set(range(len(self.msgs)))
        for t_ in q.excluded:
            pool -= ids(t_)
        out = []
        for i in pool:
            m = self.msgs[i]
            if conv is not None and m.conv not in conv:
                continue
            if send is not None and m.sender not in send:
                continue
            if types is not None and m.type not in types:
                continue
            if q.after_ms is not None and m.ts_ms < q.after_ms:
                continue
            if q.before_ms is not None and m.ts_ms >= q.before_ms:
                continue
            if q.has_attachment and not m.attachment:
                continue
            out.append(i + 1)
        out.sort(key=lambda rid: (-self.msgs[rid - 1].ts_ms, -rid))
        return out


# -- queries --------------------------------------------------------------------------------


def make_queries(msgs: list[Msg], scanner: Scanner, count: int, seed: int) -> list[tuple[str, str]]:
    """Return (category, query) pairs: at least ``count`` of them."""
    rng = random.Random(seed)
    s2t = opencc.OpenCC("s2t")
    freq: dict[str, int] = {}
    for n in scanner.norm[:200_000]:
        for ch in set(n):
            if _cjk(ch):
                freq[ch] = freq.get(ch, 0) + 1
    by_freq = sorted(freq, key=lambda c: -freq[c])
    rare_chars = [c for c in by_freq if freq[c] <= 3] or by_freq[-50:]
    texts = [n for n in scanner.norm if sum(map(_cjk, n)) >= 6]
    qs: list[tuple[str, str]] = []

    def cjk_sub(k: int, common: bool) -> str:
        for _ in range(1000):
            src = rng.choice(_DOMAIN[:60] if common and k <= 3 else texts)
            if common and k > 3:
                src = "".join(rng.choices(_DOMAIN[:30], k=3))
            runs = [r for r in re.findall(r"[\u4e00-\u9fff]+", src) if len(r) >= k]
            if runs:
                r = rng.choice(runs)
                i = rng.randrange(len(r) - k + 1)
                return r[i : i + k]
        return "值班"

    qs += [("cjk1-common", c) for c in by_freq[:20]]
    qs += [("cjk1-rare", c) for c in rng.sample(rare_chars, min(20, len(rare_chars)))]
    for k in range(2, 7):
        qs += [(f"cjk{k}-common", cjk_sub(k, True)) for _ in range(14)]
        qs += [(f"cjk{k}-rare", cjk_sub(k, False)) for _ in range(14)]
    qs += [("en-common", w) for w in rng.sample(_EN_COMMON, 15)]
    qs += [("en-rare", w) for w in _EN_RARE]
    mixed = [n for n in scanner.norm if re.search(r"[\u4e00-\u9fff]\d{2,5}", n)]
    for _ in range(20):
        m = re.search(r"[\u4e00-\u9fff]{1,2}\d{2,5}", rng.choice(mixed))
        qs.append(("mixed", m.group(0) if m else "订单8842"))
    for _cat, q in rng.sample([x for x in qs if x[0].startswith("cjk")], 20):
        qs.append(("traditional", s2t.convert(q)))
    for _ in range(15):
        q = rng.choice([x[1] for x in qs if x[0] in ("mixed", "en-common")])
        qs.append(
            ("fullwidth", "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else c for c in q))
        )
    n_conv = max(m.conv for m in msgs) + 1
    n_send = max(m.sender for m in msgs) + 1
    day = 86_400_000
    for i in range(60):
        term = rng.choice(
            [
                x[1]
                for x in qs
                if x[0] in ("cjk1-common", "cjk2-common", "cjk2-rare", "en-common", "cjk3-common")
            ]
        )
        a = START_MS + rng.randrange(PERIOD_MS - 30 * day)
        after = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(a / 1000)) + "Z"
        before = time.strftime("%Y-%m-%d", time.gmtime((a + rng.choice([1, 7, 30]) * day) / 1000))
        f = [
            f"in:conv-{rng.randrange(n_conv)} {term}",
            f"from:user-{rng.randrange(n_send)} {term}",
            f"type:image {rng.choice(['监控', 'IMG', '照片', '截图'])}",
            f"{term} after:{after} before:{before}",
            f"in:conv-{rng.randrange(n_conv)} type:text after:{after}",
            f"has:attachment {rng.choice(['监控截图', 'report', '工单'])}",
        ][i % 6]
        qs.append(("filters", f))
    for _ in range(20):
        a, b = rng.sample(
            [x[1] for x in qs if x[0] in ("cjk2-common", "cjk2-rare", "en-common")], 2
        )
        qs.append(("or-not", f"{a} OR {b}" if rng.random() < 0.5 else f"{a} -{b}"))
    qs += [
        ("miss", w)
        for w in (
            "麒麟瓜子饕餮",
            "qwertyuiop",
            "饕",
            "𠀋𠀍",
            "ＺＺＺ999999",
            "🦄",
            "鬣狗",
            "zzz",
            "犇犇",
            "乂",
        )
    ]
    while len(qs) < count:
        qs.append(("cjk2-rare", cjk_sub(2, False)))
    return qs


# -- measuring ------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def index_size(vault: Vault) -> dict[str, int]:
    """Return bytes used by the search tables (and their indexes)."""
    with vault.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'search%' "
                "OR name LIKE 'sqlite_autoindex_search%' GROUP BY name"
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT c, pg_total_relation_size(c) FROM unnest(ARRAY['search_fts', "
                    "'search_blocks', 'search_oversize']) AS c"
                )
            )
        return {str(n): int(s) for n, s in rows}


def all_ids(vault: Vault, query: str) -> tuple[list[int], Any]:
    """Return every hit id of ``query`` (newest first) and the first 50-hit page."""
    first = search(vault, query, limit=50, audit=False)
    return matching_ids(vault, query), first


def decrypt_scan_estimate(vault: Vault, sample: int = 5000) -> float:
    """Return the estimated seconds to decrypt and scan every record once (from a sample)."""
    with vault.engine.connect() as conn:
        total = int(conn.execute(text("SELECT count(*) FROM records")).scalar_one())
        rows = list(conn.execute(select(t.records).limit(sample)).mappings())
        start = time.perf_counter()
        for row in rows:
            scan_match("值班", normalise(str(open_fields(vault, conn, row).get("text") or "")))
        per = (time.perf_counter() - start) / max(1, len(rows))
    return per * total


def run_backend(
    name: str,
    url: str | None,
    args: argparse.Namespace,
    exports: list[list[Msg]],
    paths: list[Path],
    queries: list[tuple[str, str]],
    scanner: Scanner,
    work: Path,
) -> dict[str, Any]:
    """Build the vault on one backend, check every query, measure latency and size."""
    settings = Settings(
        vault=work / f"vault-{name}", database_url=url, kdf_memory_kib=8192, kdf_iterations=1
    )
    vault = Vault.create(settings.vault, settings, "bench", "Asia/Shanghai")
    try:
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        for p in paths:
            r = import_file(vault, p)
            assert r.error is None, r.error
        ingest_s = time.perf_counter() - t0
        ingest_cpu = cpu_seconds() - cpu0
        zone = __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
        failures: list[dict[str, Any]] = []
        hits_total = 0
        for cat, q in queries:
            got, first = all_ids(vault, q)
            want = scanner.run(q, zone)
            hits_total += len(want)
            problems = []
            if got != want:
                problems.append(
                    f"missing {sorted(set(want) - set(got))[:5]} extra {sorted(set(got) - set(want))[:5]}"
                )
            if [h.id for h in first.hits] != want[:50]:
                problems.append("first page differs from the scan's newest 50")
            if first.total_is_exact != (len(want) <= TOTAL_CAP) or first.total != min(
                len(want), TOTAL_CAP
            ):
                problems.append(f"total {first.total}/{first.total_is_exact} vs {len(want)}")
            if problems:
                failures.append({"category": cat, "query": q, "problems": problems})
        took: list[float] = []
        wall: list[float] = []
        cpu: list[float] = []
        per_cat: dict[str, list[float]] = {}
        for cat, q in queries:
            start, c0 = time.perf_counter(), time.thread_time()
            r = search(vault, q, limit=50, audit=False)
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - start) * 1000)
            took.append(r.took_ms)
            per_cat.setdefault(cat, []).append(r.took_ms)
        audited = []
        for _cat, q in queries[:30]:
            start = time.perf_counter()
            search(vault, q, limit=50)
            audited.append((time.perf_counter() - start) * 1000)
        sizes = index_size(vault)
        plain = sum(
            len(m.text.encode()) + len((m.attachment or "").encode()) for e in exports for m in e
        )
        baseline_ms = []
        for _cat, q in queries[:: max(1, len(queries) // 25)]:
            start = time.perf_counter()
            scanner.run(q, zone)
            baseline_ms.append((time.perf_counter() - start) * 1000)
        decrypt_s = decrypt_scan_estimate(vault)
        index_bytes = sum(sizes.values())
        out = {
            "records": sum(len(e) for e in exports),
            "ingest_s": round(ingest_s, 1),
            "ingest_cpu_s": round(ingest_cpu, 1),
            "queries": len(queries),
            "result_records_checked": hits_total,
            "recall_precision_failures": failures,
            "recall": 1.0 if not failures else None,
            "precision": 1.0 if not failures else None,
            "first_page_ms": {
                "p50": pct(took, 50),
                "p95": pct(took, 95),
                "p99": pct(took, 99),
                "max": max(took),
            },
            "first_page_cpu_ms": {
                "p50": round(pct(cpu, 50), 2),
                "p95": round(pct(cpu, 95), 2),
                "p99": round(pct(cpu, 99), 2),
            },
            "first_page_wall_ms": {
                "p50": round(pct(wall, 50), 2),
                "p95": round(pct(wall, 95), 2),
                "p99": round(pct(wall, 99), 2),
            },
            "with_audit_wall_ms_p50": round(statistics.median(audited), 2),
            "per_category_p95_ms": {c: pct(v, 95) for c, v in sorted(per_cat.items())},
            "index_bytes": index_bytes,
            "index_tables": sizes,
            "plaintext_bytes": plain,
            "index_to_plaintext": round(index_bytes / plain, 3),
            "baseline_scan_plaintext_ms_p50": round(statistics.median(baseline_ms), 1),
            "baseline_decrypt_scan_s": round(decrypt_s, 1),
            "speedup_p50_vs_plaintext_scan": round(
                statistics.median(baseline_ms) / max(pct(took, 50), 0.01), 1
            ),
        }
        return out
    finally:
        vault.close()


def main() -> None:
    """Run the benchmark and print its numbers."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="messages (default 1M)")
    ap.add_argument("--queries", type=int, default=360, help="at least this many queries (>= 300)")
    ap.add_argument(
        "--pg", help="also run on this PostgreSQL server (admin URL; a database is created)"
    )
    ap.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = ap.parse_args()
    corpus = Corpus(args.seed)
    t0 = time.perf_counter()
    exports = corpus.messages(args.n)
    print(f"generated {args.n} messages in {time.perf_counter() - t0:.1f} s", flush=True)
    msgs = [m for e in exports for m in e]
    hasher = TokenHasher(bytes(32))
    t0 = time.perf_counter()
    for m in msgs:
        doc_tokens(hasher, (m.text, m.attachment or ""), m.attachment is not None)
    tokenise_us = (time.perf_counter() - t0) / len(msgs) * 1e6
    print(f"tokenise + keyed hashing: {tokenise_us:.1f} µs/message", flush=True)
    scanner = Scanner(msgs)
    queries = make_queries(msgs, scanner, max(300, args.queries), args.seed)
    print(f"{len(queries)} queries", flush=True)
    results: dict[str, Any] = {"n": args.n, "tokenise_hash_us_per_message": round(tokenise_us, 1)}
    if args.dir is not None:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        paths = write_exports(exports, work)
        backends: list[tuple[str, str | None]] = [] if args.no_sqlite else [("sqlite", None)]
        dbname = None
        if args.pg:
            dbname = f"cc_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
            backends.append(("postgresql", f"{args.pg.rsplit('/', 1)[0]}/{dbname}"))
        try:
            for name, url in backends:
                print(f"-- {name}: building the vault…", flush=True)
                r = run_backend(name, url, args, exports, paths, queries, scanner, work)
                results[name] = r
                fp = r["first_page_ms"]
                print(
                    f"{name}: {r['records']} records ingested in {r['ingest_s']} s; "
                    f"{r['queries']} queries, {r['result_records_checked']} result records checked, "
                    f"recall/precision failures: {len(r['recall_precision_failures'])}\n"
                    f"  first page of 50: p50 {fp['p50']} ms, p95 {fp['p95']} ms, p99 {fp['p99']} ms "
                    f"(max {fp['max']}); CPU p50/p95/p99 {r['first_page_cpu_ms']['p50']}/"
                    f"{r['first_page_cpu_ms']['p95']}/{r['first_page_cpu_ms']['p99']} ms; "
                    f"with audit p50 {r['with_audit_wall_ms_p50']} ms\n"
                    f"  index {r['index_bytes'] / 1e6:.1f} MB = {r['index_to_plaintext']}× plaintext "
                    f"({r['plaintext_bytes'] / 1e6:.1f} MB)\n"
                    f"  baseline: plaintext scan p50 {r['baseline_scan_plaintext_ms_p50']} ms "
                    f"({r['speedup_p50_vs_plaintext_scan']}× slower than the index), "
                    f"decrypt-and-scan ≈ {r['baseline_decrypt_scan_s']} s per query",
                    flush=True,
                )
                for f in r["recall_precision_failures"][:10]:
                    print("  FAIL", f, flush=True)
        finally:
            if dbname and args.pg:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    results["command"] = " ".join(["bench/search_bench.py", *sys.argv[1:]])
    previous = RESULTS / "search.json"
    runs = []
    if previous.exists():  # keep earlier runs (other sizes, other backends)
        runs = [r for r in json.loads(previous.read_text("utf-8")).get("runs", [])]
    path = write_results("search", {"runs": [*runs, results]})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

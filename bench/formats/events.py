"""Generate a system-alert / operation log for the ``events`` importer.

``generate(dest, n, seed)`` writes ``dest/ops_log.csv``: UTF-8, header
``时间,来源,操作人,事件,级别`` (detected without a mapping), local ``YYYY-MM-DD HH:MM:SS``
times, a mix of order-system alerts (no operator), customer-service operations, OA/VPN
logins with the occasional ``异常登录``, quoted texts with commas and a few multi-line ones.
Deterministic per seed; written in chunks (memory flat). Returns the CSV path.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Final

_EVENTS: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("订单系统", "", "订单{n}已接单", "信息"),
    ("配送监控", "", "订单{n}配送超时预警", "预警"),
    ("配送监控", "", '"订单{n}配送超时40分钟,已升级至站长"', "预警"),
    ("客服工单系统", "客服A", "客服A处理投诉 (order {n})", "操作"),
    ("客服工单系统", "客服B", '"Refund ¥12.00 issued, order {n}"', "操作"),
    ("OA", "zhao_guard", "login ok from 10.0.8.{m}", "info"),
    ("OA", "admin", '"异常登录: admin from 203.0.113.{m}, 3 failed attempts"', "warning"),
    (
        "VPN",
        "admin",
        '"异常登录：admin 异地登录\n(previous login Shanghai, now Frankfurt)"',
        "warning",
    ),
    ("门禁系统", "钱工", "机房门禁刷卡进入 card {n}", "access"),
    ("监控平台", "", "B区摄像头{m}离线", "critical"),
)
_CHUNK_ROWS: Final[int] = 20_000
_START: Final[date] = date(2026, 3, 14)
_CLOCK: Final[list[str]] = [
    f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
]


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write an operation log of ``n`` events under ``dest``; return its path."""
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    clock = _CLOCK
    days: dict[int, str] = {}
    templates = [
        (src, actor, text.replace("{n}", "{0}").replace("{m}", "{1}"), level)
        for src, actor, text, level in _EVENTS
    ]
    # Weights: mostly routine, a few alerts and abnormal logins.
    weights = [30, 6, 2, 12, 6, 30, 1, 1, 10, 2]
    cumulative = [sum(weights[: k + 1]) for k in range(len(weights))]
    total = cumulative[-1]
    pick = [next(k for k, c in enumerate(cumulative) if w < c) for w in range(total)]
    path = dest / "ops_log.csv"
    rand = rng.random
    second = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("时间,来源,操作人,事件,级别\n")
        rows: list[str] = []
        for i in range(n):
            second += int(rand() * 8)
            day, sec = divmod(second, 86400)
            stamp = days.get(day)
            if stamp is None:
                stamp = days[day] = (_START + timedelta(days=day)).strftime("%Y-%m-%d ")
            src, actor, text, level = templates[pick[int(rand() * total)]]
            rows.append(
                f"{stamp}{clock[sec]},{src},{actor},{text.format(8000 + i, i % 250)},{level}\n"
            )
            if len(rows) >= _CHUNK_ROWS:
                f.write("".join(rows))
                rows.clear()
        f.write("".join(rows))
    return path

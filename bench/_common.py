"""Shared helpers of the benchmark scripts: synthetic text, timing, results files."""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

_ZH = [
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
    "已读",
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
    "中班",
    "主管",
    "经理",
    "财务室",
    "机房",
    "服务器",
    "日志",
    "导出",
    "核对",
]
_EN = [
    "guard",
    "patrol",
    "shift",
    "handover",
    "camera",
    "gate",
    "access",
    "alert",
    "login",
    "customer",
    "complaint",
    "order",
    "delivery",
    "late",
    "refund",
    "rider",
    "agent",
    "lead",
    "legal",
    "approval",
    "evidence",
    "record",
    "chat",
    "system",
    "warning",
    "checked",
    "done",
    "received",
    "please",
    "report",
    "parking",
    "lobby",
    "elevator",
    "fire",
    "drill",
    "alarm",
    "key",
    "visitor",
]
_EMOJI = ["👌", "🚓", "✅", "⚠️", "🙏", "😂", "👮", "📦"]


def synthetic_text(rng: random.Random) -> str:
    """Return a realistic short chat message: mostly Chinese, some English, digits, emoji."""
    roll = rng.random()
    if roll < 0.6:
        words = [rng.choice(_ZH) for _ in range(rng.randint(2, 12))]
        text = "".join(words) + rng.choice(["。", "！", "？", "", "，请确认。"])
    elif roll < 0.85:
        text = " ".join(rng.choice(_EN) for _ in range(rng.randint(3, 14))).capitalize() + "."
    else:
        text = (
            f"{rng.choice(_ZH)}{rng.choice(_ZH)} {rng.choice(_EN)} #{rng.randint(1, 99999)} "
            f"{rng.choice(_ZH)}"
        )
    if rng.random() < 0.1:
        text += rng.choice(_EMOJI)
    return text


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    """Measure wall time of a block into ``box["s"]``."""
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start


def cpu_seconds() -> float:
    """Return CPU seconds used by this process and its finished children (load-independent)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mb() -> float:
    """Return this process's peak resident memory in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_results(name: str, data: dict[str, Any]) -> Path:
    """Write a benchmark's numbers (with machine facts) to bench/results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    data = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path

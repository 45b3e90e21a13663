"""Synthetic QQ message manager .txt export for benchmarks.

``generate(dest, n, seed)`` writes ``dest/护卫队值班群.txt`` as the PC QQ message manager
does (UTF-8 with BOM, CRLF, the 消息记录 preamble, ``YYYY-MM-DD HH:MM:SS Nick(QQ)`` headers
and a blank line after each message): a group chat of n messages from 40 members, mostly
Chinese/English text (1 in 16 multi-line), ``[图片]``/``[表情]`` placeholders, members
with ``<email>`` ids or 【管理员】 titles, and 系统消息(10000) join and recall lines.
Deterministic per seed; messages are built from pools and written in batches.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

_POOL = 4096
_BATCH = 10_000
_MEMBERS = 40
_EOL = "\r\n"
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_SEP = "=" * 64


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write a QQ group export of ``n`` messages under ``dest``; return the .txt file."""
    rng = random.Random(seed)
    bits = rng.getrandbits
    days: list[str] = []
    year = 2026
    while len(days) < n * 32 // 86400 + 2:  # messages are at most 32 s apart
        leap = year % 4 == 0
        for month, length in enumerate(_DAYS_IN_MONTH, start=1):
            days.extend(
                f"{year}-{month:02d}-{day:02d} "
                for day in range(1, length + (month == 2 and leap) + 1)
            )
        year += 1
    two = [f"{i:02d}" for i in range(60)]
    clock = [f"{h}:{m}:{s} " for h in two[:24] for m in two for s in two]
    senders = [f"队员{i:02d}({10_000_000 + i * 7919}){_EOL}" for i in range(_MEMBERS - 4)]
    senders += [f"【管理员】赵队长(10001234){_EOL}", f"孙晓<sunxiao@example.com>{_EOL}"]
    senders += [f"Guard{i} 保安<guard{i}@example.com>{_EOL}" for i in range(2)]
    texts = [synthetic_text(rng) + _EOL + _EOL for _ in range(_POOL)]
    for j in range(0, _POOL, 16):
        texts[j] = texts[j].rstrip() + _EOL + synthetic_text(rng) + _EOL + _EOL
    extras = [
        f"[图片]{_EOL}{_EOL}",
        f"[图片][图片]骑手在东门被拦，见图{_EOL}{_EOL}",
        f"[表情]{_EOL}{_EOL}",
    ]
    system = [f"队员{i:02d}加入了本群{_EOL}{_EOL}" for i in range(8)]
    system += [f"队员{i:02d}撤回了一条消息{_EOL}{_EOL}" for i in range(8)]
    system_sender = f"系统消息(10000){_EOL}"
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "护卫队值班群.txt"
    preamble = [
        "消息记录（此消息记录为文本格式，不支持重新导入）",
        "",
        _SEP,
        "消息分组:我的群聊",
        _SEP,
        "消息对象:护卫队值班群",
        _SEP,
        "",
        "",
    ]
    secs = 8 * 3600
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        f.write(_EOL.join(preamble))
        buf: list[str] = []
        for _ in range(n):
            secs += bits(5)
            day, sec = divmod(secs, 86400)
            stamp = days[day] + clock[sec]
            roll = bits(6)
            if roll > 4:
                buf.append(stamp + senders[bits(8) % _MEMBERS] + texts[bits(12)])
            elif roll > 1:
                buf.append(stamp + senders[bits(8) % _MEMBERS] + extras[roll - 2])
            else:
                buf.append(stamp + system_sender + system[bits(4)])
            if len(buf) >= _BATCH:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    return path

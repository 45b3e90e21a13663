"""Synthetic WhatsApp "Export chat" text file for benchmarks.

``generate(dest, n, seed)`` writes ``dest/WhatsApp Chat with 护卫队值班群.txt``: a group
chat of n messages from 40 members, mostly Chinese/English text, some multi-line messages,
``<Media omitted>``, deleted messages, locations and group system lines. An even seed gives
the Android layout (``3/24/26, 10:15 PM - Name: text``, month first, U+202F before AM/PM);
an odd seed the iOS layout (``[24/03/2026, 22:15:07] Name: text``, day first, U+200E
before system lines and media, CRLF endings). Deterministic per seed; lines are built from
pools, so writing stays far above 200k messages/s.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

_POOL = 4096
_BATCH = 10_000
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _stamps(ios: bool) -> tuple[list[str], list[str]]:
    """Return the per-day date prefixes of 2026–2075 and the per-second clock suffixes."""
    days: list[str] = []
    for year in range(2026, 2076):
        leap = year % 4 == 0
        for month, length in enumerate(_DAYS_IN_MONTH, start=1):
            for day in range(1, length + (month == 2 and leap) + 1):
                if ios:
                    days.append(f"[{day:02d}/{month:02d}/{year}, ")
                else:
                    days.append(f"{month}/{day}/{year % 100:02d}, ")
    clock: list[str] = []
    for s in range(86400):
        h, m, sec = s // 3600, s // 60 % 60, s % 60
        if ios:
            clock.append(f"{h:02d}:{m:02d}:{sec:02d}] ")
        else:
            clock.append(f"{(h % 12) or 12}:{m:02d}\u202f{'AM' if h < 12 else 'PM'} - ")
    return days, clock


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write a group chat export of ``n`` messages under ``dest``; return the .txt file."""
    rng = random.Random(seed)
    bits = rng.getrandbits
    ios = seed % 2 == 1
    eol = "\r\n" if ios else "\n"
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "WhatsApp Chat with 护卫队值班群.txt"
    days, clock = _stamps(ios)
    names = [f"队员{i:02d} Guard{i}" for i in range(38)] + ["赵队长", "+86 138 0013 8000"]
    texts = [synthetic_text(rng) + eol for _ in range(_POOL)]
    for j in range(0, _POOL, 16):  # some messages run over several lines
        texts[j] = texts[j].rstrip("\r\n") + eol + synthetic_text(rng) + eol
    senders = [f"{name}: " for name in names]
    lrm = "\u200e" if ios else ""
    media = f"{lrm}image omitted{eol}" if ios else f"<Media omitted>{eol}"
    deleted = f"{lrm}This message was deleted.{eol}"
    location = f"{lrm}location: https://maps.google.com/?q=31.230416,121.473701{eol}"
    system = [
        f"{name} added {other}{eol}" for name, other in zip(names[::2], names[1::2], strict=True)
    ] + [f"{name} left{eol}" for name in names[:8]]
    secs = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(
            f"{days[0]}{clock[0]}Messages and calls are end-to-end encrypted. No one outside "
            f"of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.{eol}"
        )
        buf: list[str] = []
        for _ in range(1, n):
            secs += bits(5)
            day, sec = divmod(secs, 86400)
            stamp = days[day] + clock[sec]
            roll = bits(7)  # 0..127
            if roll > 7:
                buf.append(stamp + senders[bits(8) % 40] + texts[bits(12)])
            elif roll < 4:
                buf.append(lrm + stamp + senders[bits(8) % 40] + media)
            elif roll == 4:
                buf.append(lrm + stamp + senders[bits(8) % 40] + deleted)
            elif roll == 5:
                buf.append(lrm + stamp + senders[bits(8) % 40] + location)
            else:
                buf.append(lrm + stamp + system[bits(8) % len(system)])
            if len(buf) >= _BATCH:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    return path

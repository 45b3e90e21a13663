"""Generate a generic chat CSV export (plus its column mapping) for the ``csv`` importer.

``generate(dest, n, seed)`` writes ``dest/chat_export.csv`` (UTF-8 with BOM, as Excel's
"CSV UTF-8" saves it; ``/``-dated local times; a quoted, sometimes multi-line text column),
``dest/mapping.toml`` and a few media files under ``dest/media/``, and returns the CSV path.
Import it with ``options(path)`` as the importer options
(``chatcustody import --format csv --mapping dest/mapping.toml dest/chat_export.csv``).

Mix per message: ~88 % text (Chinese / English / emoji; one template in 12 multi-line),
~5 % media (images and voice notes present in ``media/``, files only named), ~3 % system
lines, ~1 % recalls of an earlier message, ~4 % replies; 24 conversations (group and
one-to-one). Deterministic per seed; rows are written in chunks (memory flat). Do not run
this file as a script: its name would shadow the standard ``csv`` module on ``sys.path``.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Final

MAPPING: Final[str] = """\
platform = { const = "dingtalk" }
conversation_id = "会话ID"
conversation_name = "会话名称"
conversation_kind = "会话类型"
message_id = "消息ID"
sender_id = "发送者ID"
sender_name = "发送者"
timestamp = "发送时间"
type = "消息类型"
text = "内容"
reply_to = "回复消息ID"
target_id = "目标消息ID"
attachment_path = "附件路径"
timestamp_format = "%Y/%m/%d %H:%M:%S"
encoding = "utf-8-sig"

[type_map]
"文本" = "text"
"图片" = "image"
"语音" = "voice"
"文件" = "file"
"系统消息" = "system"
"撤回" = "recall"

[kind_map]
"单聊" = "direct"
"群聊" = "group"
"""
HEADER: Final[str] = (
    "会话ID,会话名称,会话类型,消息ID,发送者ID,发送者,发送时间,消息类型,内容,回复消息ID,目标消息ID,附件路径\n"
)
_PHRASES: Final[tuple[str, ...]] = (
    "B区监控正常，巡逻完毕。",
    "订单{n}还在等餐，商家出餐慢",
    "收到，已催商家。预计送达延后15分钟",
    "Picked up, on the way 🛵",
    "顾客投诉订单{n}超时，请说明情况。",
    "商家出餐晚了25分钟, 路上又下大雨，抱歉。",
    'Customer says "cold food", refund ¥12.00?',
    "好的👌",
    "东门有可疑车辆，车牌 沪A·{n}，请关注",
    "Shift handover done. All clear at gate 3.",
    "请说明原因：\n1. 出餐慢\n2. 路况",
    "全角ＡＢＣ１２３，繁體字測試，emoji 🚓👮‍♀️",
)
_NAMES: Final[tuple[str, ...]] = (
    "赵队长", "钱工", "孙保安", "李骑手", "周调度", "吴客服", "郑经理", "王师傅",
    "Alice Chen", "Bob Li", "陈女士", "客服A",
)  # fmt: skip
_MEDIA: Final[tuple[tuple[str, str], ...]] = tuple(
    [("图片", f"media/photo_{k}.jpg") for k in range(6)]
    + [("语音", f"media/voice_{k}.amr") for k in range(3)]
    + [("文件", f"media/missing_report_{k}.xlsx") for k in range(3)]  # named, not exported
)
_CHUNK_ROWS: Final[int] = 20_000
_START: Final[date] = date(2026, 3, 14)
_CLOCK: Final[list[str]] = [
    f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
]


def options(export: Path) -> dict[str, str]:
    """Return the importer options for an export written by ``generate``."""
    return {"mapping": str(export.parent / "mapping.toml")}


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write a realistic chat CSV export of ``n`` messages under ``dest``; return its path."""
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "media").mkdir(exist_ok=True)
    for kind, rel in _MEDIA:
        if kind != "文件":
            (dest / rel).write_bytes(f"stub {rel} seed {seed}".encode() * 8)
    (dest / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    # Per conversation: the leading columns, then per member its ",id,name," columns.
    convs: list[tuple[str, list[tuple[str, str]]]] = []
    for c in range(24):
        group = c % 3 != 0
        picked = rng.sample(range(len(_NAMES)), 5 if group else 2)
        name = f"护卫队{c}组值班群" if group else _NAMES[picked[1]]
        prefix = f"cid{c:03d}{'G' if group else 'D'}==,{name},{'群聊' if group else '单聊'},m"
        convs.append((prefix, [(f",u{k:02d},{_NAMES[k]},", _NAMES[k]) for k in picked]))
    clock = _CLOCK
    # Each text template is quoted once; {0} is an order number, {1} the message number.
    texts = ["文本," + _quote(p.replace("{n}", "{0}") + " #{1}") + ",{2},,\r\n" for p in _PHRASES]
    n_texts, n_media = len(texts), len(_MEDIA)
    path = dest / "chat_export.csv"
    rand = rng.random
    second = 6 * 3600
    day = -1
    day_end = 0  # the first second of the next day: dates change rarely
    stamp = ""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        f.write(HEADER)
        rows: list[str] = []
        add = rows.append
        for i in range(n):
            second += 1 + int(rand() * 20)
            while second >= day_end:
                day += 1
                day_end = (day + 1) * 86400
                stamp = (_START + timedelta(days=day)).strftime("%Y/%m/%d ") + "{}"
            when = stamp.format(clock[second - day_end + 86400])
            pick = rand() * 24  # the integer part picks the chat, the fraction the sender
            prefix, members = convs[int(pick)]
            who_cols, who = members[int((pick % 1) * len(members))]
            r = rand()
            if r < 0.88:
                reply = f"m{int(rand() * i)}" if r < 0.04 and i else ""
                text = texts[int(r * 100) % n_texts].format(i % 10_000, i, reply)
                add(f"{prefix}{i}{who_cols}{when},{text}")
            elif r < 0.93:
                kind, attach = _MEDIA[int(r * 1000) % n_media]
                add(f"{prefix}{i}{who_cols}{when},{kind},,,,{attach}\r\n")
            elif r < 0.96:
                add(
                    f"{prefix}{i},system,系统,{when},系统消息,"
                    f'"{members[-1][1]} 加入了群聊 #{i}",,,\r\n'
                )
            elif r < 0.97 and i:
                target = i - 1 - int(rand() * min(i, 50))
                add(f'{prefix}{i}{who_cols}{when},撤回,"{who}撤回了一条消息",,m{target},\r\n')
            else:
                add(
                    f'{prefix}{i}{who_cols}{when},文本,"Gate {i % 7} checked, 第{i}次巡逻 ✅"'
                    + ",,,\r\n"
                )
            if len(rows) >= _CHUNK_ROWS:
                f.write("".join(rows))
                rows.clear()
        f.write("".join(rows))
    return path

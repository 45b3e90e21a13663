"""Generate a Slack workspace export folder for the ``slack`` importer.

``generate(dest, n, seed)`` writes ``dest/slack-export/`` (``users.json``, ``channels.json``,
``groups.json``, ``mpims.json``, ``dms.json``, one folder per conversation with one JSON
array per day, a few downloaded files under ``__uploads/``) holding ``n`` message objects,
and returns the folder (import it as is, or zip it).

Mix per message: ~84 % text (Chinese / English / emoji, ~10 % with a ``<@U…>`` mention),
~4 % thread replies, ~4 % file shares (the first 200 downloaded into ``__uploads/``, the rest
only linked), ~3 % joins / topic changes, ~3 % bot messages, ~1.5 % edits
(``message_changed``) and ~0.5 % deletions (``message_deleted``) of an earlier message; 12
conversations (public, private, multi-party and direct). One message every 1.5 s, so a
day file holds a few thousand messages. Days are written as they complete (memory: one day);
messages are one per line in the array (Slack indents; the importer does not care).
Deterministic per seed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

_START_S = 1_767_196_800  # 2026-01-01T00:00:00+08:00
_DAY_S = 86_400
_POOL = 4096
_USERS = 60
_PRESENT_FILES = 200
_FILES: list[tuple[str, str]] = [
    ("现场照片.jpg", "image/jpeg"),
    ("patrol-log.pdf", "application/pdf"),
    ("语音.m4a", "audio/mp4"),
    ("cctv.mp4", "video/mp4"),
]
_CONVERSATIONS: list[tuple[str, str, str]] = [
    ("C0GUARD01", "guard-duty", "channels"),
    ("C0PATROL2", "patrol-east", "channels"),
    ("C0PATROL3", "patrol-west", "channels"),
    ("C0SERVICE", "customer-service", "channels"),
    ("C0LOBBY05", "lobby-desk", "channels"),
    ("C0GENERAL", "general", "channels"),
    ("G0INCIDNT", "incident-review", "groups"),
    ("G0LEGAL02", "legal-hold", "groups"),
    ("G0MPDM001", "mpdm-u00--u01--u02-1", "mpims"),
    ("D0DM00001", "D0DM00001", "dms"),
    ("D0DM00002", "D0DM00002", "dms"),
    ("D0DM00003", "D0DM00003", "dms"),
]


def _metadata(root: Path) -> None:
    users = [
        {
            "id": f"U{i:04d}",
            "name": f"user{i}",
            "real_name": f"员工{i} Staff {i}",
            "profile": {"display_name": f"员工{i}", "real_name": f"员工{i} Staff {i}"},
            "is_bot": False,
            "deleted": False,
        }
        for i in range(_USERS)
    ]
    (root / "users.json").write_text(json.dumps(users, ensure_ascii=False, indent=4), "utf-8")
    by_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in ("channels", "groups", "mpims")}
    dms = []
    for n, (cid, name, kind) in enumerate(_CONVERSATIONS):
        if kind == "dms":
            dms.append({"id": cid, "created": _START_S, "members": [f"U{n:04d}", f"U{n + 1:04d}"]})
        else:
            by_kind[kind].append(
                {
                    "id": cid,
                    "name": name,
                    "created": _START_S,
                    "creator": "U0000",
                    "is_archived": False,
                    "members": [f"U{i:04d}" for i in range(_USERS)],
                    "topic": {"value": "值班 duty", "creator": "U0000", "last_set": _START_S},
                    "purpose": {"value": "", "creator": "", "last_set": 0},
                }
            )
    for kind, items in by_kind.items():
        (root / f"{kind}.json").write_text(json.dumps(items, ensure_ascii=False, indent=4))
    (root / "dms.json").write_text(json.dumps(dms, indent=4))


def _file_share(i: int, ts: str, user: str, text: str) -> dict[str, Any]:
    fid = f"F{i:09d}"
    name, mime = _FILES[i % len(_FILES)]
    url = f"https://files.slack.com/files-pri/T0-{fid}/{name}"
    return {
        "type": "message",
        "subtype": "file_share",
        "user": user,
        "text": text if i % 3 else "",
        "ts": ts,
        "files": [{"id": fid, "name": name, "mimetype": mime, "size": 1024, "url_private": url}],
    }


def _edit(ts: str, user: str, text: str, target: str) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "message": {
            "type": "message",
            "user": user,
            "text": text + "（已修改）",
            "edited": {"user": user, "ts": ts},
            "ts": target,
        },
        "event_ts": ts,
        "ts": ts,
    }


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write a Slack export of ``n`` message objects under ``dest``; return its folder."""
    rnd = random.Random(seed)
    rand = rnd.random
    root = dest / "slack-export"
    root.mkdir(parents=True, exist_ok=True)
    _metadata(root)
    users = [f"U{i:04d}" for i in range(_USERS)]
    texts = [synthetic_text(rnd) for _ in range(_POOL)]
    # Ready-made line heads for plain messages (~10 % with a mention): only ts varies.
    heads = []
    for k, text in enumerate(texts):
        shown = f"<@{users[(k * 7) % _USERS]}> {text}" if k % 10 == 0 else text
        user = users[(k * 13) % _USERS]
        heads.append(f'{{"type":"message","user":"{user}","text":{json.dumps(shown)},"ts":"')
    history: list[list[str]] = [[] for _ in _CONVERSATIONS]
    files_written = 0
    day: list[list[str]] = [[] for _ in _CONVERSATIONS]
    current_day = 0
    seconds = _START_S
    nconv = len(_CONVERSATIONS)
    next_day = _START_S + _DAY_S
    fractions = [f".000{j:03d}" for j in range(1000)]
    for i in range(n):
        seconds += 1 + (i & 1)
        if seconds >= next_day:
            _flush(root, current_day, day)
            day, current_day = [[] for _ in _CONVERSATIONS], (seconds - _START_S) // _DAY_S
            next_day = _START_S + (current_day + 1) * _DAY_S
        conv = int(rand() * nconv)
        ts = str(seconds) + fractions[i % 1000]
        roll = rand()
        earlier = history[conv]
        k = i % _POOL
        if roll >= 0.16 or not earlier:
            day[conv].append(heads[k] + ts + '"}')
            if not (i & 15):
                earlier.append(ts)
                if len(earlier) > 50:
                    del earlier[:25]
            continue
        user = users[k % _USERS]
        if roll < 0.015:
            line = json.dumps(_edit(ts, user, texts[k], earlier[i % len(earlier)]))
        elif roll < 0.02:
            target = earlier[i % len(earlier)]
            line = (
                '{"type":"message","subtype":"message_deleted","hidden":true,'
                f'"deleted_ts":"{target}","event_ts":"{ts}","ts":"{ts}"}}'
            )
        elif roll < 0.05:
            line = (
                f'{{"type":"message","subtype":"channel_join","user":"{user}",'
                f'"text":"<@{user}> has joined the channel","ts":"{ts}"}}'
            )
        elif roll < 0.08:
            line = (
                '{"type":"message","subtype":"bot_message","bot_id":"B0PATROL",'
                f'"username":"巡逻机器人","text":{json.dumps(texts[k])},"ts":"{ts}"}}'
            )
        elif roll < 0.12:
            msg = _file_share(i, ts, user, texts[k])
            line = json.dumps(msg)
            if files_written < _PRESENT_FILES:
                files_written += 1
                f = msg["files"][0]
                stub = root / "__uploads" / f["id"] / f["name"]
                stub.parent.mkdir(parents=True, exist_ok=True)
                stub.write_bytes(f"stub {f['id']}\n".encode())
        else:
            line = heads[k] + f'{ts}","thread_ts":"{earlier[i % len(earlier)]}"}}'
        day[conv].append(line)
    _flush(root, current_day, day)
    return root


def _flush(root: Path, day_index: int, day: list[list[str]]) -> None:
    date = dt.date(2026, 1, 1) + dt.timedelta(days=day_index)
    for conv, lines in enumerate(day):
        if not lines:
            continue
        folder = root / _CONVERSATIONS[conv][1]
        folder.mkdir(exist_ok=True)
        (folder / f"{date.isoformat()}.json").write_text(
            "[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8"
        )

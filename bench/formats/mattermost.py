"""Generate a Mattermost compliance export (CSV) zip for the ``mattermost`` importer.

``generate(dest, n, seed)`` writes ``dest/mattermost-compliance-export.zip`` holding
``posts.csv`` (the 18 columns of Mattermost's CSV exporter, epoch-ms times, rows in time
order), ``files/<postId>/<fileId>-<name>`` for the first 200 attachments and
``metadata.json``, and returns the zip. ``n`` counts the post rows (messages, joins and
leaves, old versions of edited posts); file rows and deletion rows come on top.

Mix per post: ~86 % plain text (Chinese / English / emoji, ~3 % multi-line, quoted),
~4 % replies, ~4 % posts with a file (an ``attachment`` row after the post row), ~3 %
joins / leaves (``enter`` / ``leave``, no post id), ~1 % edits (the old version, whose
``Edited By Post Id`` names the new post on the next row), ~0.5 % deletions (the exporter's
``delete <message>`` row right after the post); 10 channels of the four channel types.
posts.csv is written through the zip in chunks (memory flat), stored rather than deflated
(deflating would dominate the generation time; the importer reads both). Deterministic
per seed.
"""

from __future__ import annotations

import json
import random
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import synthetic_text  # noqa: E402

_START_MS = 1_767_196_800_000  # 2026-01-01T00:00:00+08:00
_POOL = 4096
_USERS = 60
_PRESENT_FILES = 200
_CHUNK = 5_000
HEADER = [
    "Post Creation Time",
    "Team Id",
    "Team Name",
    "Team Display Name",
    "Channel Id",
    "Channel Name",
    "Channel Display Name",
    "Channel Type",
    "User Id",
    "User Email",
    "Username",
    "Post Id",
    "Edited By Post Id",
    "Replied to Post Id",
    "Post Message",
    "Post Type",
    "User Type",
    "Previews Post Id",
]
_TEAM = ["tguardco00000000000000000a", "guard-co", "护卫公司"]
_CHANNELS = [
    [f"cchannel{i:02d}0000000000000000", name, display, kind]
    for i, (name, display, kind) in enumerate(
        [
            ("guard-duty", "护卫值班", "public"),
            ("patrol-east", "东区巡逻", "public"),
            ("patrol-west", "西区巡逻", "public"),
            ("customer-service", "客服 Customer Service", "public"),
            ("lobby", "大堂前台", "public"),
            ("incident-review", "事件复盘", "private"),
            ("legal-hold", "法务保全", "private"),
            ("u01__u02", "", "direct"),
            ("u03__u04", "", "direct"),
            ("0f3a9b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a", "alice, li.na, zhao", "group"),
        ]
    )
]
_FILES = ["现场照片.jpg", "patrol-log.pdf", "语音.m4a", "cctv.mp4"]


def _entry(name: str) -> zipfile.ZipInfo:
    """Return a zip entry with a fixed time, so the zip is byte-identical per seed."""
    return zipfile.ZipInfo(name, date_time=(2026, 1, 2, 0, 0, 0))


def _quote(field: str) -> str:
    """Quote a CSV field the way Go's encoding/csv does (only when needed)."""
    if any(ch in field for ch in ',"\r\n') or field.startswith(" "):
        return '"' + field.replace('"', '""') + '"'
    return field


def generate(dest: Path, n: int, seed: int = 0) -> Path:
    """Write a compliance export zip with ``n`` post rows under ``dest``; return the zip."""
    rnd = random.Random(seed)
    rand = rnd.random
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "mattermost-compliance-export.zip"
    texts = [synthetic_text(rnd) for _ in range(_POOL)]
    for k in range(0, _POOL, 33):
        texts[k] = texts[k] + "\n" + texts[(k + 1) % _POOL]
    quoted = [_quote(t) for t in texts]
    edited = [_quote(t + "（已更正）") for t in texts]
    deleted = [_quote("delete " + t) for t in texts]
    users = [
        (f"u{i:025d}", f"user{i}@guard.example.com", f"user{i}", "bot" if i == 0 else "user")
        for i in range(_USERS)
    ]
    user_cols = [",".join(u[:3]) for u in users]
    chan_cols = [
        ",".join([*(_TEAM if ch[3] in ("public", "private") else ["", "", ""]), *map(_quote, ch)])
        for ch in _CHANNELS
    ]
    present: list[tuple[str, str]] = []
    ms = _START_MS
    last_post = [""] * len(_CHANNELS)
    nchan = len(_CHANNELS)
    # Stored, not deflated: deflate alone would cost more than writing the rows; the
    # importer reads both alike.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        with z.open(_entry("posts.csv"), "w", force_zip64=True) as out:
            out.write((",".join(HEADER) + "\n").encode())
            rows: list[str] = []
            i = 0
            while i < n:
                ms += 1000 + (i & 1023)
                c = int(rand() * nchan)
                u = int(rand() * _USERS)
                head = f"{ms},{chan_cols[c]},{user_cols[u]}"
                utype = users[u][3]
                k = i % _POOL
                roll = rand()
                pid = "p" + str(i).zfill(25)
                if roll < 0.03:
                    user = users[u]
                    word, kind = ("joined", "enter") if roll < 0.02 else ("left", "leave")
                    msg = f"User {user[2]} ({user[1]}) {word} the channel"
                    rows.append(f"{head},,,,{msg},{kind},{utype},\n")
                elif roll < 0.04 and i + 1 < n:
                    new = "p" + str(i + 1).zfill(25)
                    rows.append(f"{head},{pid},{new},,{quoted[k]},message,{utype},\n")
                    rows.append(f"{head},{new},,,{edited[k]},message,{utype},\n")
                    i += 1
                else:
                    reply = last_post[c] if roll < 0.08 else ""
                    rows.append(f"{head},{pid},,{reply},{quoted[k]},message,{utype},\n")
                    if roll > 0.995:
                        gone = f"{ms + 60_000},{chan_cols[c]},{user_cols[u]}"
                        rows.append(f"{gone},{pid},,{reply},{deleted[k]},message,{utype},\n")
                    elif roll > 0.955:
                        name = _FILES[i % len(_FILES)]
                        rel = f"files/{pid}/f{i:025d}-{name}"
                        entry = _quote(f"{name} ({rel})")
                        rows.append(f"{head},{pid},,{reply},{entry},attachment,{utype},\n")
                        if len(present) < _PRESENT_FILES:
                            present.append((rel, pid))
                    last_post[c] = pid
                i += 1
                if len(rows) >= _CHUNK:
                    out.write("".join(rows).encode())
                    rows.clear()
            out.write("".join(rows).encode())
        for rel, pid in present:
            z.writestr(_entry(rel), f"stub attachment of post {pid}\n")
        meta = {"MessagesCount": n, "AttachmentsCount": len(present), "StartTime": _START_MS}
        z.writestr(_entry("metadata.json"), json.dumps(meta, indent=2))
    return path

"""``transcript.html``: a self-contained, bilingual (zh-CN / en) reading view of the package.

No script, no external resource: inline CSS only, attachments linked by relative path.
Every message shows its sender, its time with the zone it was sent in, recalls and edits,
and the package's watermark (request id and recipient) is fixed over every screen and page.
Withheld values never reach this file: it is built from the package items' disclosed
fields and masked display copies only.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Final

from chatcustody.model import iso

_CSS: Final[str] = """
body{font-family:"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;
background:#f3f4f6;color:#111}
header{background:#1f2937;color:#fff;padding:12px 20px}
header h1{margin:0;font-size:18px}
header p{margin:4px 0 0;font-size:13px;color:#d1d5db}
main{max-width:860px;margin:0 auto;padding:12px}
h2{font-size:15px;margin:20px 0 8px;color:#374151}
.msg{display:flex;margin:6px 0}
.bubble{background:#fff;border-radius:10px;padding:8px 12px;max-width:75%;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
.alt{justify-content:flex-end}.alt .bubble{background:#dcfce7}
.meta{font-size:12px;color:#6b7280;margin-bottom:3px}
.text{white-space:pre-wrap;word-break:break-word}
.tag{display:inline-block;font-size:11px;border-radius:4px;padding:0 4px;margin-left:4px}
.recall{background:#fee2e2;color:#991b1b}.edit{background:#fef3c7;color:#92400e}
.withheld{background:#e5e7eb;color:#374151}
.note{font-size:12px;color:#92400e;margin-top:4px}
.wm{position:fixed;inset:0;pointer-events:none;display:flex;align-items:center;
justify-content:center;font-size:42px;color:rgba(17,24,39,.07);transform:rotate(-28deg);
white-space:nowrap;z-index:9}
@media print{.wm{position:fixed}}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _when(fields: Mapping[str, Any]) -> str:
    ts, off = fields.get("timestamp_ms"), fields.get("utc_offset_min")
    if not isinstance(ts, int) or not isinstance(off, int):
        return "时间已隐去 time withheld"
    sign = "+" if off >= 0 else "-"
    zone = f"UTC{sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}"
    return f"{iso(ts, off)} ({zone})"


def _shown(item: Mapping[str, Any], name: str) -> tuple[str | None, bool]:
    """Return (value to show, is it a masked display copy)."""
    if name in item["fields"]:
        value = item["fields"][name]
        return (None if value is None else str(value)), False
    display = item.get("display", {})
    if name in display:
        return str(display[name]), True
    return None, name in item["withheld"]


def _message(
    item: Mapping[str, Any],
    amendments: Sequence[Mapping[str, Any]],
    attachment_paths: Mapping[str, str],
    first_sender: str | None,
) -> str:
    f = item["fields"]
    sender, _ = _shown(item, "sender_name")
    sender_id = f.get("sender_id")
    who = _e(sender) if sender else '<span class="tag withheld">已隐去 withheld</span>'
    tags = []
    if f.get("type") == "recall":
        tags.append('<span class="tag recall">撤回 recalled</span>')
    for a in amendments:
        action = a["fields"].get("action")
        label = {"delete": "已删除/撤回 deleted", "edit": "已编辑 edited"}.get(
            str(action), "另一导出版本 re-exported variant"
        )
        cls = "recall" if action == "delete" else "edit"
        tags.append(f'<span class="tag {cls}">{label}</span>')
    text, masked = _shown(item, "text")
    parts = [
        f'<div class="meta">{who} · {_e(_when(f))} · {_e(f.get("type", ""))} · '
        f"#{item['id']}{''.join(tags)}</div>"
    ]
    if text is None:
        parts.append(
            '<div class="text"><span class="tag withheld">内容已隐去 text withheld</span></div>'
        )
    else:
        parts.append(f'<div class="text">{_e(text)}</div>')
        if masked:
            parts.append(
                '<div class="note">已遮盖副本，不在证明范围内 '
                "masked copy, not covered by the proof</div>"
            )
    for att in f.get("attachments") or []:
        sha = att.get("sha256")
        path = attachment_paths.get(str(sha)) if sha else None
        name = _e(att.get("name"))
        if path:
            parts.append(
                f'<div class="meta">📎 <a href="{_e(path)}">{name}</a> sha256 {_e(sha)}</div>'
            )
        else:
            parts.append(f'<div class="meta">📎 {name} (未包含 not included)</div>')
    for a in amendments:
        atext, amasked = _shown(a, "text")
        when = _e(_when(a["fields"]))
        body = _e(atext) if atext is not None else "已隐去 withheld"
        extra = "（遮盖副本 masked copy）" if amasked else ""
        parts.append(f'<div class="note">{when}: {body}{extra}</div>')
    side = " alt" if first_sender is not None and sender_id != first_sender else ""
    return f'<div class="msg{side}"><div class="bubble">{"".join(parts)}</div></div>'


def transcript_html(
    records: Sequence[Mapping[str, Any]],
    amendments: Mapping[int, Sequence[Mapping[str, Any]]],
    attachment_paths: Mapping[str, str],
    request_id: str,
    recipient: str,
    head_line: str,
) -> bytes:
    """Return the transcript of the package's records (already in time order)."""
    mark = f"调取申请 Request {request_id} · 接收方 Recipient {recipient}"
    out = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>聊天记录副本 Transcript · {_e(request_id)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<div class="wm" aria-hidden="true">{_e(mark)}</div>',
        "<header><h1>电子证据聊天记录 Evidence transcript</h1>",
        f"<p>{_e(mark)}</p><p>{len(records)} 条消息 messages · {_e(head_line)}</p>",
        "<p>本页仅供阅读；证明以 messages.jsonl 与 proofs/ 为准。"
        "Reading view only: messages.jsonl and proofs/ are what the proofs cover.</p>",
        "</header><main>",
    ]
    current: tuple[Any, Any] | None = None
    first_sender: str | None = None
    for item in records:
        f = item["fields"]
        conv = (f.get("platform"), f.get("conversation_id"))
        if conv != current:
            current = conv
            title, _ = _shown(item, "conversation_name")
            first_sender = f.get("sender_id")
            out.append(f"<h2>{_e(title or '会话 conversation')} · {_e(f.get('platform', ''))}</h2>")
        out.append(
            _message(item, amendments.get(int(item["id"]), ()), attachment_paths, first_sender)
        )
    out.append(
        f"</main><footer><p style='text-align:center;font-size:12px'>{_e(mark)}</p></footer>"
    )
    out.append("</body></html>\n")
    return "".join(out).encode("utf-8")

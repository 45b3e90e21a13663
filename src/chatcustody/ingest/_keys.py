"""Dedupe keys: what makes re-importing the same message a no-op.

A message with a source id is keyed by (platform, conversation, message id). One without
(WhatsApp, QQ) is keyed by a hash of its content plus its occurrence number among identical
messages at the same instant, so two real "ok"s sent in the same minute stay two records
while a re-import of the same export maps onto the same keys. Every key is a keyed hash:
no id or text is stored in the clear.
"""

from __future__ import annotations

import hashlib

from chatcustody.crypto import Blinder
from chatcustody.model import Amendment, Event, Record


def message_key(blinder: Blinder, platform: str, conversation_id: str, message_id: str) -> bytes:
    """Return the key of a message with a source id (also an amendment's target key)."""
    return blinder.blind(platform, "msg", conversation_id, message_id)


class Keyer:
    """Computes dedupe keys in file order, counting occurrences of identical content.

    Counters are kept for the current instant only while the file is in time order (memory
    stays flat); once an earlier time appears, every counter is kept from then on.
    """

    def __init__(self, blinder: Blinder) -> None:
        self._blinder = blinder
        self._counts: dict[bytes, int] = {}
        self._last_ts: int | None = None
        self._ordered = True

    def _occurrence(self, ts: int, content: bytes) -> int:
        if self._last_ts is not None and ts != self._last_ts and self._ordered:
            if ts < self._last_ts:
                self._ordered = False
            else:
                self._counts.clear()
        self._last_ts = ts if self._last_ts is None else max(ts, self._last_ts)
        n = self._counts.get(content, 0)
        self._counts[content] = n + 1
        return n

    def record(self, r: Record) -> bytes:
        """Return the dedupe key of a record."""
        if r.message_id:
            return message_key(self._blinder, r.platform, r.conversation_id, r.message_id)
        h = hashlib.sha256(
            "\x1f".join(
                (
                    r.conversation_id,
                    r.sender_id,
                    str(r.timestamp_ms),
                    r.type.value,
                    r.text,
                    "\x1e".join(a.name for a in r.attachments),
                )
            ).encode("utf-8")
        ).digest()
        n = self._occurrence(r.timestamp_ms, h)
        return self._blinder.blind(r.platform, "content", r.conversation_id, h.hex(), str(n))

    def amendment(self, a: Amendment) -> bytes:
        """Return the dedupe key of an edit or deletion."""
        h = hashlib.sha256(a.text.encode("utf-8")).hexdigest()
        return self._blinder.blind(
            a.platform, "amend", a.conversation_id, a.message_id, a.action, str(a.timestamp_ms), h
        )

    def event(self, e: Event) -> bytes:
        """Return the dedupe key of a timeline event."""
        h = hashlib.sha256(
            "\x1f".join((e.source, e.actor, e.category, e.text, str(e.timestamp_ms))).encode()
        ).digest()
        n = self._occurrence(e.timestamp_ms, h)
        return self._blinder.blind("event", h.hex(), str(n))

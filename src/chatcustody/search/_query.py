"""The query language: parse what a user types into terms, alternatives and filters.

Grammar (documented with examples in docs/search.md)::

    query    := item*
    item     := filter | "-" term | term ("OR" term)*
    term     := WORD | "quoted phrase"          (also “…” and 「…」)
    filter   := from:USER | in:CONVERSATION | type:T[,T…] | after:TIME | before:TIME
              | has:attachment | tag:NAME

Items are ANDed; ``OR`` (or ``|``) binds the terms on each side into alternatives; a
leading ``-`` excludes. Repeated ``from:`` / ``in:`` / ``type:`` filters are alternatives
(a message has one sender); repeated ``tag:`` filters must all hold (a message may carry
several tags). Times are dates or date-times to the minute (seconds allowed),
in the vault's zone unless they carry ``Z`` or an offset; ``after`` is inclusive,
``before`` exclusive, and a bare date means its midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

from chatcustody.errors import UsageError
from chatcustody.model import MessageType, to_epoch_ms
from chatcustody.search._text import WORD_CHAR, normalise

FILTER_KEYS: Final[frozenset[str]] = frozenset(
    {"from", "in", "type", "after", "before", "has", "tag"}
)
_QUOTES: Final[dict[str, str]] = {'"': '"', "“": "”", "「": "」", "『": "』"}
MODES: Final[tuple[str, ...]] = ("exact", "word")


@dataclass(frozen=True)
class Term:
    """One word or quoted phrase, as typed and normalised."""

    text: str
    norm: str

    @property
    def leads_with_word(self) -> bool:
        """Return True when the term starts inside a word run (its match must not extend it)."""
        return bool(self.norm) and WORD_CHAR.match(self.norm, 0) is not None

    @property
    def ends_with_word(self) -> bool:
        """Return True when the term ends inside a word run."""
        return bool(self.norm) and WORD_CHAR.match(self.norm, len(self.norm) - 1) is not None


@dataclass
class Query:
    """A parsed query: AND of clauses (each an OR of terms), exclusions and filters."""

    clauses: list[list[Term]] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    conversations: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    after_ms: int | None = None
    before_ms: int | None = None
    has_attachment: bool = False
    tags: list[str] = field(default_factory=list)

    @property
    def terms(self) -> list[Term]:
        """Return every positive term."""
        return [t for clause in self.clauses for t in clause]

    def describe(self) -> dict[str, object]:
        """Return the filters as JSON for the audit trail."""
        return {
            "clauses": [[t.text for t in c] for c in self.clauses],
            "excluded": [t.text for t in self.excluded],
            "from": self.senders,
            "in": self.conversations,
            "type": self.types,
            "after_ms": self.after_ms,
            "before_ms": self.before_ms,
            "has_attachment": self.has_attachment,
            "tag": self.tags,
        }


@dataclass(frozen=True)
class _Piece:
    """One lexeme: a term (maybe quoted or negated), a filter, or the OR operator."""

    text: str
    quoted: bool = False
    negated: bool = False
    key: str | None = None

    @property
    def is_or(self) -> bool:
        return not self.quoted and self.key is None and self.text in ("OR", "|")


def _lex(text: str) -> list[_Piece]:
    """Split at spaces outside quotes; ``key:"quoted value"`` and ``-"phrase"`` stay whole."""
    out: list[_Piece] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
        buf: list[str] = []
        first_quote: int | None = None  # length of the text before the first quote
        while i < n and not text[i].isspace():
            close = _QUOTES.get(text[i])
            if close is None:
                buf.append(text[i])
                i += 1
                continue
            end = text.find(close, i + 1)
            if end < 0:
                raise UsageError(f"unclosed quote at position {i + 1} in {text!r}")
            if first_quote is None:
                first_quote = len("".join(buf))
            buf.append(text[i + 1 : end])
            i = end + 1
        piece = "".join(buf)
        key, sep, value = piece.partition(":")
        is_filter = (
            sep
            and not negated
            and key.lower() in FILTER_KEYS
            and (first_quote is None or first_quote > len(key))
        )
        if is_filter:
            out.append(_Piece(value, first_quote is not None, False, key.lower()))
        elif first_quote is not None or piece:
            out.append(_Piece(piece, first_quote is not None, negated))
    return out


def parse_time(value: str, zone: ZoneInfo, what: str) -> int:
    """Parse a date or date-time (minute precision or finer) into UTC epoch ms."""
    raw = value.strip()
    if not raw:
        raise UsageError(f"{what}: empty time")
    fixed = re.sub(r"^(\d{4}-\d{2}-\d{2})[ _](\d)", r"\1T\2", raw)
    fixed = fixed[:-1] + "+00:00" if fixed.endswith(("Z", "z")) else fixed
    try:
        if "T" not in fixed:
            day = date.fromisoformat(fixed)
            return to_epoch_ms(datetime.combine(day, time(0, 0), zone))
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        raise UsageError(
            f"{what}: {value!r} is not a date or date-time "
            "(e.g. 2026-03-14, 2026-03-14T14:20, 2026-03-14T14:20+08:00)"
        ) from None
    if "T" in fixed and len(fixed.split("T", 1)[1]) < 5:
        raise UsageError(f"{what}: {value!r}: give the time to the minute (HH:MM)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return to_epoch_ms(moment)


def _types(value: str) -> list[str]:
    allowed = {t.value for t in MessageType}
    out = []
    for v in (x.strip().lower() for x in value.split(",")):
        if v not in allowed:
            raise UsageError(
                f"type:{v}: unknown message type (one of {', '.join(sorted(allowed))})"
            )
        out.append(v)
    return out


def _term(text: str) -> Term:
    norm = normalise(text)
    if not norm.strip():
        raise UsageError("empty search term")
    return Term(text, norm)


def parse(text: str, zone: ZoneInfo) -> Query:
    """Parse a query string (times without an offset are read in ``zone``)."""
    q = Query()
    pieces = _lex(text)
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        i += 1
        if piece.is_or:
            raise UsageError("OR needs a word or phrase on both sides")
        if piece.key is not None:
            _apply_filter(q, piece.key, piece.text, zone)
            continue
        if piece.negated:
            q.excluded.append(_term(piece.text))
            continue
        clause = [_term(piece.text)]
        while i < len(pieces) and pieces[i].is_or:
            if i + 1 >= len(pieces) or pieces[i + 1].key or pieces[i + 1].negated:
                raise UsageError("OR needs a word or phrase on both sides")
            if pieces[i + 1].is_or:
                raise UsageError("OR needs a word or phrase on both sides")
            clause.append(_term(pieces[i + 1].text))
            i += 2
        q.clauses.append(clause)
    return q


def _apply_filter(q: Query, key: str, value: str, zone: ZoneInfo) -> None:
    if not value.strip():
        raise UsageError(f"{key}: needs a value")
    if key == "from":
        q.senders.append(value)
    elif key == "in":
        q.conversations.append(value)
    elif key == "type":
        q.types.extend(_types(value))
    elif key == "after":
        ms = parse_time(value, zone, "after")
        q.after_ms = ms if q.after_ms is None else max(q.after_ms, ms)
    elif key == "before":
        ms = parse_time(value, zone, "before")
        q.before_ms = ms if q.before_ms is None else min(q.before_ms, ms)
    elif key == "tag":
        name = value.strip()
        if len(name) > 64 or any(c.isspace() or c in ':"' for c in name):
            raise UsageError(f"tag:{value}: a tag has 1 to 64 characters, without spaces or colons")
        if name not in q.tags:
            q.tags.append(name)
    elif key == "has":
        if value.lower() not in ("attachment", "attachments", "附件"):
            raise UsageError(f"has:{value}: only has:attachment is supported")
        q.has_attachment = True

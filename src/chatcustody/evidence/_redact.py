"""Redaction: decide which fields of an item are withheld, and mask free text for display.

Commitments are per field, so the unit of withholding is a whole field: a message text that
contains a third party's phone number is withheld whole (its commitment keeps the proof
valid) and the package adds a masked copy under ``display`` that is explicitly *not*
covered by any proof. ``raw`` (the exporter's own bytes) repeats the text, so it is scanned
and withheld by the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chatcustody.errors import UsageError
from chatcustody.evidence._spec import PII_KINDS, Redaction
from chatcustody.model import canonical_json

MASK: Final[str] = "▇▇"
_PATTERNS: Final[dict[str, str]] = {
    # Mainland mobile numbers, optionally with +86 / 86 and separators.
    "phone": r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])",
    # Resident ID card: 17 digits and a check digit (X allowed).
    "id_card": r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])",
    # Bank card numbers: 16 to 19 digits, optionally grouped by 4.
    "bank_card": (
        r"(?<![0-9])[0-9]{4}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]{4}(?:[ -]?[0-9]{1,3})?(?![0-9])"
    ),
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
}


@dataclass(frozen=True)
class Withheld:
    """One withheld field and the rule that withheld it."""

    field: str
    rule: int


class Redactor:
    """Applies a package's redaction rules to items and free text."""

    def __init__(self, rules: Sequence[Redaction]) -> None:
        for r in rules:
            if r.kind not in ("value", "participant", "pii"):
                raise UsageError(f"unknown redaction kind {r.kind!r} (value, participant, pii)")
            if r.kind == "pii" and r.value not in PII_KINDS:
                raise UsageError(f"unknown PII pattern {r.value!r} (one of {', '.join(PII_KINDS)})")
            if not r.value.strip():
                raise UsageError("a redaction rule needs a value")
            if not r.reason.strip():
                raise UsageError(f"redaction rule {r.kind}: say why it is withheld (reason)")
        self.rules = tuple(rules)
        self._literals: list[tuple[str, int]] = []
        self._regexes: list[tuple[re.Pattern[str], int]] = []
        self._participants: dict[str, int] = {}
        for i, r in enumerate(rules):
            if r.kind == "value":
                self._literals.append((r.value, i))
            elif r.kind == "participant":
                # A sender id matches as a whole token: id "7" must not withhold "2017".
                self._participants[r.value] = i
                bounded = rf"(?<![0-9A-Za-z_]){re.escape(r.value)}(?![0-9A-Za-z_])"
                self._regexes.append((re.compile(bounded), i))
            else:
                self._regexes.append((re.compile(_PATTERNS[r.value]), i))
        self._compile()

    def _compile(self) -> None:
        # Longest literal first, so a full name is masked before a part of it.
        literals = sorted(self._literals, key=lambda x: -len(x[0]))
        parts = [re.escape(v) for v, _ in literals] + [p.pattern for p, _ in self._regexes]
        self._any = re.compile("|".join(parts)) if parts else None

    @property
    def active(self) -> bool:
        """Return True when any rule is configured."""
        return bool(self.rules)

    def learn_names(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Add the display names a redacted participant used as literals to withhold."""
        known = {v for v, _ in self._literals}
        for fields in items:
            rule = self._participants.get(str(fields.get("sender_id")))
            name = fields.get("sender_name")
            if rule is not None and isinstance(name, str) and name.strip() and name not in known:
                self._literals.append((name, rule))
                known.add(name)
        self._compile()

    def rule_for(self, text: str) -> int | None:
        """Return the first rule matching ``text``, or None."""
        for value, i in self._literals:
            if value in text:
                return i
        for pattern, i in self._regexes:
            if pattern.search(text):
                return i
        return None

    def withheld(self, fields: Mapping[str, Any]) -> list[Withheld]:
        """Return the fields of one item to withhold."""
        if not self.rules:
            return []
        out: list[Withheld] = []
        sender_rule = self._participants.get(str(fields.get("sender_id")))
        for name, value in fields.items():
            text = value if isinstance(value, str) else canonical_json(value)
            rule = self.rule_for(text)
            if rule is None and sender_rule is not None and name in ("sender_name", "raw"):
                rule = sender_rule
            if rule is not None:
                out.append(Withheld(name, rule))
        return out

    def mask(self, text: str) -> str:
        """Return ``text`` with every match of every rule replaced by a mask."""
        if self._any is None or not text:
            return text
        return self._any.sub(MASK, text)

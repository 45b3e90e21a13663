"""Keyed search tokens: what the index stores instead of text.

A text is normalised (``_text.normalise``) and cut into tokens:

- a run of CJK characters ``c1…cn`` gives the overlapping bigrams ``c1c2 … c(n-1)cn``; when
  only spaces or punctuation separate it from the previous run's bigrams, the constant
  separator token ``0`` comes first, so consecutive bigrams always belong to one run;
- a run of letters or digits (Latin, Cyrillic, numbers…) is one whole-word token;
- every symbol (emoji, ¥, ✅…) is its own token; spaces and punctuation are separators.

Those tokens, in order, are the record's *positional* tokens (phrase queries). Its *bag*
holds each distinct CJK character, each word and symbol, once: one-character queries (and
one-character runs inside a term) are answered there. DESIGN.md's trailing single
character per run served one-character queries through FTS prefix queries on plaintext
bigrams; keyed tokens have no usable prefixes, and the bag makes the trailing single
redundant, so it is left out (measured: it was ~15% of the positional postings).

Each token is stored as ``base32(HMAC-SHA256(search key, kind ‖ token))[:8]`` (40 bits):
nothing in the index is plaintext, and without the key a token cannot be tested against a
guess. Equal tokens still look equal, so the index reveals token frequencies (see
docs/search.md, "What the index reveals").
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, cast

from chatcustody.errors import UsageError
from chatcustody.search._text import RUNS, is_symbol, normalise

TOKEN_CHARS: Final[int] = 8  # base32 characters kept: 40 bits (collisions only add candidates)
# Records with more positional tokens than this, or a token repeated more often than
# PostgreSQL keeps positions for, are not put in the full-text index: every query checks
# them directly (search_oversize). Keeps both backends' phrase semantics identical.
MAX_DOC_TOKENS: Final[int] = 16_000
MAX_TOKEN_REPEATS: Final[int] = 255
_CACHE_ENTRIES: Final[int] = 400_000  # ~70 MB at most; frequent tokens stay cached
_BLOCK: Final[int] = 64
RUN_SEPARATOR: Final[str] = "0"  # not base32: never equal to a keyed token
_RUN_CACHE_MAX_CHARS: Final[int] = 12


class TokenHasher:
    """Turns raw tokens into keyed token strings, caching the frequent ones.

    HMAC-SHA256 is computed from precomputed inner and outer states (RFC 2104), which
    halves its cost; when the cache fills it is emptied and refills with what is frequent.
    """

    __slots__ = ("_inner", "_outer", "_caches", "_runs")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        self._caches: dict[str, dict[str, str]] = {k: {} for k in "bwsumc"}
        self._runs: dict[str, tuple[list[str], list[str]]] = {}

    def _compute(self, kind: str, raw: str) -> str:
        inner = self._inner.copy()
        inner.update(kind.encode() + raw.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        token = base64.b32encode(outer.digest()[:5]).lower().decode()
        cache = self._caches[kind]
        if len(cache) >= _CACHE_ENTRIES:
            cache.clear()
        cache[raw] = token
        return token

    def token(self, kind: str, raw: str) -> str:
        """Return the keyed token of ``raw`` in the token family ``kind``."""
        return self._caches[kind].get(raw) or self._compute(kind, raw)

    def marker(self, name: str) -> str:
        """Return the keyed token marking a property (e.g. "has an attachment")."""
        return self.token("m", name)

    def _fill(self, kind: str, raws: list[str], toks: list[str | None]) -> list[str]:
        return [t or self._compute(kind, r) for t, r in zip(toks, raws, strict=True)]

    def _run(self, run: str) -> tuple[list[str], list[str]]:
        """Return the positional and bag tokens of a CJK run (cached: short runs recur)."""
        positional: list[str] = []
        if len(run) > 1:
            pairs = [run[i : i + 2] for i in range(len(run) - 1)]
            toks = list(map(self._caches["b"].get, pairs))
            positional = cast(list[str], toks) if None not in toks else self._fill("b", pairs, toks)
        chars = list(set(run))
        unis = list(map(self._caches["u"].get, chars))
        bag = cast(list[str], unis) if None not in unis else self._fill("u", chars, unis)
        out = (positional, bag)
        if len(run) <= _RUN_CACHE_MAX_CHARS:
            if len(self._runs) >= _CACHE_ENTRIES:
                self._runs.clear()
            self._runs[run] = out
        return out

    def text_tokens(self, norm: str, positional: list[str], bag: set[str]) -> None:
        """Append the positional tokens of normalised text, add its bag tokens."""
        runs = self._runs.get
        words = self._caches["w"].get
        pos = 0
        after_bigram = False  # the last positional token is a bigram
        for m in RUNS.finditer(norm):
            if m.start() > pos and self._symbols(norm[pos : m.start()], positional, bag):
                after_bigram = False
            pos = m.end()
            run = m.group(1)
            if run is not None:
                cached = runs(run)
                if cached is None:
                    cached = self._run(run)
                if cached[0]:
                    if after_bigram:
                        positional.append(RUN_SEPARATOR)
                    positional.extend(cached[0])
                    after_bigram = True
                bag.update(cached[1])
            else:
                after_bigram = False
                word = m.group(2)
                tok = words(word) or self._compute("w", word)
                positional.append(tok)
                bag.add(tok)
        if pos < len(norm):
            self._symbols(norm[pos:], positional, bag)

    def _symbols(self, gap: str, positional: list[str], bag: set[str]) -> bool:
        found = False
        for ch in gap:
            if not ch.isspace() and is_symbol(ch):
                tok = self.token("s", ch)
                positional.append(tok)
                bag.add(tok)
                found = True
        return found


ATTACHMENT_MARKER: Final[str] = "attachment"


@dataclass
class DocTokens:
    """The keyed tokens of one record."""

    positional: list[str] = field(default_factory=list)
    bag: set[str] = field(default_factory=set)

    @property
    def oversize(self) -> bool:
        """Return True when the record is checked directly instead of through the index."""
        if len(self.positional) > MAX_DOC_TOKENS:
            return True
        if len(self.positional) <= MAX_TOKEN_REPEATS:
            return False
        return Counter(self.positional).most_common(1)[0][1] > MAX_TOKEN_REPEATS


def conversation_marker(hasher: TokenHasher, conversation_id: int) -> str:
    """Return the keyed token every record of a conversation carries (fast in: and scopes)."""
    return hasher.token("c", str(conversation_id))


def sender_marker(hasher: TokenHasher, participant_id: int) -> str:
    """Return the keyed token every record of a sender carries (fast from:)."""
    return hasher.token("c", f"sender:{participant_id}")


def type_marker(hasher: TokenHasher, message_type: str) -> str | None:
    """Return the keyed token of a message type; plain text (most records) has none."""
    return None if message_type == "text" else hasher.token("c", f"type:{message_type}")


def doc_tokens(
    hasher: TokenHasher,
    parts: Sequence[str],
    has_attachments: bool,
    conversation_id: int | None = None,
    sender_id: int | None = None,
    message_type: str = "text",
) -> DocTokens:
    """Return the tokens of a record: its text and attachment names, and markers."""
    out = part_tokens(hasher, parts)
    add_markers(hasher, out, has_attachments, conversation_id, sender_id, message_type)
    return out


def part_tokens(hasher: TokenHasher, parts: Sequence[str]) -> DocTokens:
    """Return the tokens of a record's text and attachment names, without markers.

    Markers need the stored conversation and sender ids (``add_markers``); this part does
    not, so ingest's producer process computes it ahead of the writer.
    """
    out = DocTokens()
    for part in parts:
        if part:
            if out.positional and out.positional[-1] != RUN_SEPARATOR:
                out.positional.append(RUN_SEPARATOR)  # no phrase spans two parts
            hasher.text_tokens(normalise(part), out.positional, out.bag)
    return out


def add_markers(
    hasher: TokenHasher,
    out: DocTokens,
    has_attachments: bool,
    conversation_id: int | None,
    sender_id: int | None,
    message_type: str,
) -> None:
    """Append a record's marker tokens to its ``part_tokens``."""
    markers = [hasher.marker(ATTACHMENT_MARKER)] if has_attachments else []
    if conversation_id is not None:
        markers.append(conversation_marker(hasher, conversation_id))
    if sender_id is not None:
        markers.append(sender_marker(hasher, sender_id))
    typed = type_marker(hasher, message_type)
    if typed is not None:
        markers.append(typed)
    out.positional.extend(markers)
    out.bag.update(markers)


@dataclass(frozen=True)
class TermTokens:
    """How the index can find the records a search term may match.

    ``phrase``: positional tokens that appear consecutively in every match (may be empty);
    ``unigrams``: bag tokens a match also needs (each CJK run of one character, which has no
    bigram);
    ``bag``: tokens of the bag index that every match holds (all characters, words,
    symbols); ``exact``: a record that has the phrase (or, without one, the unigrams) is
    certainly a match — the term is one CJK run, one word or one symbol.
    """

    phrase: tuple[str, ...]
    unigrams: tuple[str, ...]
    bag: tuple[str, ...]
    exact: bool


def term_tokens(hasher: TokenHasher, norm: str) -> TermTokens:
    """Return the index tokens of a normalised search term.

    The phrase is what ``TokenHasher.text_tokens`` gives for the term itself, so it occurs
    consecutively in every text containing the term — with one exception handled here: a
    leading separator (the term's first run may continue a longer run in the text).
    """
    positional: list[str] = []
    bag: set[str] = set()
    hasher.text_tokens(norm, positional, bag)
    unigrams: list[str] = []
    items = 0
    covered = 0
    pos = 0
    for m in RUNS.finditer(norm):
        for ch in norm[pos : m.start()]:
            if not ch.isspace() and is_symbol(ch):
                items += 1
                covered += 1
        pos = m.end()
        covered += m.end() - m.start()
        items += 1
        run = m.group(1)
        if run is not None and len(run) == 1:
            unigrams.append(hasher.token("u", run))
    for ch in norm[pos:]:
        if not ch.isspace() and is_symbol(ch):
            items += 1
            covered += 1
    if not bag:
        raise UsageError(
            f"{norm!r} has nothing to search for: give letters, digits, CJK characters "
            "or symbols (punctuation and spaces alone are not indexed)"
        )
    exact = items == 1 and covered == len(norm)
    return TermTokens(tuple(positional), tuple(unigrams), tuple(sorted(bag)), exact)

"""Shared fuzz mutators for importer tests: damage an export, then parse it."""

from __future__ import annotations

import random

from hypothesis import strategies as st

JUNK = st.sampled_from(
    [
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b'"',
        b"\\",
        b"\xff",
        b"\xe4\xb8",
        b"null",
        b'{"a":',
        b"\n",
    ]
) | st.binary(max_size=8)


@st.composite
def mutate(draw: st.DrawFn, data: bytes) -> bytes:
    """Damage an export: flip, insert, delete bytes, truncate it, shuffle its lines."""
    ops = ["flip", "insert", "delete", "truncate", "shuffle"]
    for op in draw(st.lists(st.sampled_from(ops), min_size=1, max_size=3)):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
        elif op == "insert":
            data = data[:i] + draw(JUNK) + data[i:]
        elif op == "delete":
            data = data[:i] + data[i + draw(st.integers(1, 64)) :]
        elif op == "truncate":
            data = data[:i]
        else:
            data = b"\n".join(draw(st.permutations(data.split(b"\n"))))
    return data


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """Return ``original`` damaged by byte flips, truncation, inserted junk or shuffled lines."""
    data = bytearray(original)
    kind = draw(st.sampled_from(["flip", "truncate", "junk", "shuffle"]))
    if kind == "flip":
        for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            data[pos] ^= draw(st.integers(1, 255))
    elif kind == "truncate":
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif kind == "junk":
        pos = draw(st.integers(0, len(data)))
        data[pos:pos] = draw(st.binary(min_size=1, max_size=40))
    else:
        lines = bytes(data).split(b"\n")
        data = bytearray(b"\n".join(draw(st.permutations(lines))))
    return bytes(data)


def apply_ops(data: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    """Apply (op, n, junk) edits (flip, truncate, insert, shuffle) to ``data``."""
    for op, n, junk in ops:
        at = n % (len(data) + 1)
        if op == "flip" and data:
            i = n % len(data)
            data = data[:i] + bytes([data[i] ^ (junk[0] if junk else 0xFF)]) + data[i + 1 :]
        elif op == "truncate":
            data = data[:at]
        elif op == "insert":
            data = data[:at] + junk + data[at:]
        elif op == "shuffle":
            lines = data.split(b"\n")
            random.Random(n).shuffle(lines)
            data = b"\n".join(lines)
    return data


def mutate_seeded(data: bytes, how: str, rnd: random.Random, junk: list[bytes]) -> bytes:
    """Damage ``data`` by one ``how`` (flip, truncate, junk, else shuffle) drawn from ``rnd``."""
    if how == "flip" and data:
        b = bytearray(data)
        for _ in range(rnd.randint(1, 8)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        return bytes(b)
    if how == "truncate":
        return data[: rnd.randrange(len(data) + 1)]
    if how == "junk":
        at = rnd.randrange(len(data) + 1)
        return data[:at] + rnd.choice(junk) + data[at:]
    lines = data.split(b"\n")
    rnd.shuffle(lines)
    return b"\n".join(lines)

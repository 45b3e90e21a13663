"""``SHA256SUMS`` and ``SM3SUMS``: one line per file, in the format ``sha256sum -c`` reads.

Each line is ``<64 hex digits>  <path>`` (two spaces: text mode, which on POSIX hashes the
bytes as they are), paths relative to the package root with ``/`` separators, sorted.
Package paths are chosen by the writer and never contain a newline or a backslash, so no
line needs ``sha256sum``'s escaping.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import hashes

SHA256SUMS: Final[str] = "SHA256SUMS"
SM3SUMS: Final[str] = "SM3SUMS"
SUMS_SIG: Final[str] = "SHA256SUMS.sig"
SM3_SUMS_SIG: Final[str] = "SM3SUMS.sig"
#: Each manifest and its raw Ed25519 signature (by the vault's ledger key, over its bytes).
SIGNED_MANIFESTS: Final[tuple[tuple[str, str], ...]] = (
    (SHA256SUMS, SUMS_SIG),
    (SM3SUMS, SM3_SUMS_SIG),
)
TIMESTAMP_FILES: Final[tuple[str, ...]] = (
    "timestamps/SHA256SUMS.tsr",
    "timestamps/SM3SUMS.tsr",
    "timestamps/tsa-ca.pem",
)
# Made after (or of) the manifests, so not listed in them: every other file must be.
UNLISTED: Final[frozenset[str]] = frozenset(
    {SHA256SUMS, SM3SUMS, SUMS_SIG, SM3_SUMS_SIG, *TIMESTAMP_FILES}
)
_LINE: Final[re.Pattern[str]] = re.compile(r"^([0-9a-f]{64})  (\S.*)$")


@dataclass(frozen=True)
class FileDigests:
    """SHA-256 and SM3 of one package file."""

    path: str
    sha256: str
    sm3: str
    size: int


def digest_bytes(path: str, data: bytes) -> FileDigests:
    """Return both digests of a file's bytes."""
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(data)
    return FileDigests(path, hashlib.sha256(data).hexdigest(), sm3.finalize().hex(), len(data))


def sums_text(files: Iterable[FileDigests], algorithm: str) -> bytes:
    """Return the sums file for ``algorithm`` (``sha256`` or ``sm3``)."""
    lines = []
    for f in sorted(files, key=lambda f: f.path):
        if "\n" in f.path or "\\" in f.path:
            raise ValueError(f"package path {f.path!r} cannot be listed")
        lines.append(f"{f.sha256 if algorithm == 'sha256' else f.sm3}  {f.path}\n")
    return "".join(lines).encode("utf-8")


def parse_sums(text: bytes, name: str) -> tuple[dict[str, str], list[str]]:
    """Return ``{path: hex}`` and the problems found (each naming the file and line)."""
    out: dict[str, str] = {}
    problems: list[str] = []
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return out, [f"{name}: not UTF-8"]
    for n, line in enumerate(decoded.split("\n"), 1):
        if not line:
            continue
        m = _LINE.match(line)
        if m is None:
            problems.append(f"{name}:{n}: malformed line")
            continue
        digest, path = m.group(1), m.group(2)
        if path in out:
            problems.append(f"{name}:{n}: {path} listed twice")
        out[path] = digest
    if decoded and not decoded.endswith("\n"):
        problems.append(f"{name}: last line lacks its newline")
    return out, problems

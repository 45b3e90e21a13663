"""A producer process for ingest: parse, key and prepare records on the second CPU.

What a record's row needs falls in two parts:

- what depends only on the record: its dedupe key, its sealed fields, the per-row seed, the
  leaf commitments (``ledger.commit_inner``), the payload JSON and the tokens of its text
  (``search.part_tokens``) — about half of the work;
- what depends on the database: row, conversation and participant ids, ledger index, the
  AES-GCM seal under the conversation's key, the inserts, the index markers.

For a file of more than one batch, ``produce`` forks a child that parses the file and
computes the first part, and sends each batch through a pipe; the parent (the only
process that touches the database) does the second part and commits. The batches are the
same as without the child, so atomicity, dedupe and crash safety are unchanged: the
child never writes anything, and dies with the parent (``PR_SET_PDEATHSIG`` on Linux; a
broken pipe elsewhere) when the parent is killed.

Records with an attachment the export includes are not prepared (their fields need the
acquired blob); the writer prepares them itself, as it does every other item.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Generator, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any, Final

from chatcustody.errors import ChatCustodyError
from chatcustody.importers import Rejected
from chatcustody.model import Attachment, ConversationKind, Item, MessageType, Record
from chatcustody.rows import Prepared, prepare_fields
from chatcustody.search import DocTokens, TokenHasher, part_tokens

Keyed = tuple[Item | Rejected, bytes]
Prep = tuple[Prepared, DocTokens]
"""A prepared record: (seed, leaf commitments, payload) and the tokens of its text."""

_PR_SET_PDEATHSIG: Final[int] = 1  # linux/prctl.h
_KINDS: Final[dict[str, ConversationKind]] = {k.value: k for k in ConversationKind}
_TYPES: Final[dict[str, MessageType]] = {m.value: m for m in MessageType}


def record_fields(r: Record, attachments: Sequence[Attachment]) -> dict[str, Any]:
    """Return the committed, encrypted fields of a record (the canonical message)."""
    return {
        "platform": r.platform,
        "conversation_id": r.conversation_id,
        "conversation_name": r.conversation_name,
        "conversation_kind": r.conversation_kind.value,
        "message_id": r.message_id,
        "sender_id": r.sender_id,
        "sender_name": r.sender_name,
        "timestamp_ms": r.timestamp_ms,
        "utc_offset_min": r.utc_offset_min,
        "type": r.type.value,
        "text": r.text,
        "reply_to": r.reply_to,
        "target_id": r.target_id,
        "attachments": [a.to_json() for a in attachments],
        "raw": r.raw,
    }


def unstored_attachments(r: Record) -> list[Attachment] | None:
    """Return the record's attachments as stored when none is included, else None."""
    if any(a.included and a.path is not None for a in r.attachments):
        return None
    return [Attachment(a.name, a.mime, a.path, included=False) for a in r.attachments]


def prepare(r: Record, hasher: TokenHasher) -> Prep | None:
    """Return what a record's row needs that no database id changes (None: not preparable)."""
    attachments = unstored_attachments(r)
    if attachments is None:
        return None
    fields = record_fields(r, attachments)
    return prepare_fields(fields), part_tokens(hasher, (r.text, *(a.name for a in attachments)))


# -- transport: plain tuples pickle several times faster than dataclasses and enums ----------


def _pack_record(r: Record) -> tuple[Any, ...]:
    return (
        r.platform,
        r.conversation_id,
        r.conversation_name,
        r.conversation_kind.value,
        r.message_id,
        r.sender_id,
        r.sender_name,
        r.timestamp_ms,
        r.utc_offset_min,
        r.type.value,
        r.text,
        r.raw,
        r.reply_to,
        r.target_id,
        r.attachments or None,
        r.line,
    )


def _unpack_record(p: tuple[Any, ...]) -> Record:
    return Record(
        p[0],
        p[1],
        p[2],
        _KINDS[p[3]],
        p[4],
        p[5],
        p[6],
        p[7],
        p[8],
        _TYPES[p[9]],
        p[10],
        p[11],
        p[12],
        p[13],
        p[14] or (),
        p[15],
    )


def _pack(item: Item | Rejected, key: bytes, hasher: TokenHasher) -> tuple[Any, ...]:
    if type(item) is not Record:
        return (item, key, None)
    prep = prepare(item, hasher)
    if prep is None:
        return (_pack_record(item), key, None)
    (seed, inner, payload), toks = prep
    return (_pack_record(item), key, (seed, inner, payload, toks.positional, list(toks.bag)))


def _unpack(packed: tuple[Any, ...]) -> tuple[Keyed, Prep | None]:
    body, key, prep = packed
    item = _unpack_record(body) if type(body) is tuple else body
    if prep is None:
        return (item, key), None
    seed, inner, payload, positional, bag = prep
    return (item, key), ((seed, inner, payload), DocTokens(positional, set(bag)))


# -- the child process ------------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """Make the kernel kill this process when its parent dies (Linux), or exit if it has."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the closed pipe still stops the child
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _child(
    parent: int,
    recv: Connection,
    send: Connection,
    make_batches: Callable[[], Iterator[list[Keyed]]],
    hasher: TokenHasher,
) -> None:
    # Without this the child would hold the pipe's read end itself: if the parent were
    # killed, a full pipe would block the child forever (and with it the parent's stdout).
    recv.close()
    _die_with_parent(parent)
    try:
        for batch in make_batches():
            send.send(("batch", [_pack(item, key, hasher) for item, key in batch]))
        send.send(("end", None))
    except BrokenPipeError:  # the parent is gone (killed, or stopped after an error)
        pass
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        with contextlib.suppress(BrokenPipeError):
            send.send(("error", _picklable(exc)))
    finally:
        send.close()


def _picklable(exc: BaseException) -> BaseException:
    import pickle  # noqa: PLC0415

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure: send the text instead
        return ChatCustodyError(
            f"import failed in the parser process: {''.join(traceback.format_exception(exc))}"
        )


def can_fork() -> bool:
    """Return True when a producer process can be forked here (POSIX)."""
    return "fork" in multiprocessing.get_all_start_methods() and os.name == "posix"


def produce(
    make_batches: Callable[[], Iterator[list[Keyed]]], hasher: TokenHasher
) -> Generator[tuple[list[Keyed], dict[int, Prep] | None], None, None]:
    """Yield the batches ``make_batches`` gives, made in a child process, with their preps.

    The preps are keyed by ``id(item)``. ``make_batches`` runs in the child only: it must
    open its own file handles. Closing the generator early stops the child.
    """
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child, args=(os.getpid(), recv, send, make_batches, hasher), daemon=True
    )
    proc.start()
    send.close()  # the child holds the only write end: EOF when it exits
    try:
        while True:
            try:
                tag, body = recv.recv()
            except EOFError:
                raise ChatCustodyError("the parser process ended unexpectedly") from None
            if tag == "end":
                return
            if tag == "error":
                raise body
            batch: list[Keyed] = []
            preps: dict[int, Prep] = {}
            for packed in body:
                keyed, prep = _unpack(packed)
                batch.append(keyed)
                if prep is not None:
                    preps[id(keyed[0])] = prep
            yield batch, preps
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
        proc.join()


__all__ = ["Keyed", "Prep", "can_fork", "prepare", "produce", "record_fields"]

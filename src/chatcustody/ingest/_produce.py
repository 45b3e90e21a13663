"""A producer process for ingest: parse, key and prepare records on the second CPU.

What a record's row needs falls in two parts:

- what depends only on the record: its dedupe key, its sealed fields, the per-row seed, the
  leaf commitments (``ledger.commit_inner``), the payload JSON and the tokens of its text
  (``search.part_tokens``) — about half of the work;
- what depends on the database: row, conversation and participant ids, ledger index, the
  AES-GCM seal under the conversation's key, the inserts, the index markers.

For a big file (or one found to hold more than one batch), ``produce`` forks a child that
parses the file and computes the first part, and sends each batch through a pipe; the
parent (the only process that touches the database) does the second part and commits. A
big file's child starts before the parent validates the file, and prepares up to
``AHEAD_BATCHES`` batches while the parent validates and acquires; if validation fails the
child is killed, having written nothing. Each batch is committed exactly as without the
child, so atomicity, dedupe and crash safety are unchanged: the child never writes
anything, and dies with the parent (``PR_SET_PDEATHSIG`` on Linux; a broken pipe elsewhere)
when the parent is killed.

The child leaves a batch's search tokens to the parent when the parent has already taken
every earlier batch (it would otherwise wait); the index is the same either way.

Records with an attachment the export includes are not prepared (their fields need the
acquired blob); the writer prepares them itself, as it does every other item.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any, Final

from chatcustody.errors import ChatCustodyError
from chatcustody.importers import Rejected
from chatcustody.model import Attachment, ConversationKind, Item, MessageType, Record
from chatcustody.rows import Prepared, prepare_fields
from chatcustody.search import DocTokens, TokenHasher, part_tokens

Keyed = tuple[Item | Rejected, bytes]
Prep = tuple[Prepared, DocTokens | None]
"""A prepared record: (seed, leaf commitments, payload) and the tokens of its text (None:
left to the writer, which then tokenises the record itself)."""

_PR_SET_PDEATHSIG: Final[int] = 1  # linux/prctl.h
AHEAD_BATCHES: Final[int] = 4  # prepared batches the child may hold beyond the pipe's
_PUT_WAIT_S: Final[float] = 0.2  # how often a blocked child checks that its sender lives
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


def prepare(r: Record, hasher: TokenHasher, tokens: bool = True) -> Prep | None:
    """Return what a record's row needs that no database id changes (None: not preparable).

    ``tokens=False`` leaves the search tokens to the writer.
    """
    attachments = unstored_attachments(r)
    if attachments is None:
        return None
    fields = record_fields(r, attachments)
    toks = part_tokens(hasher, (r.text, *(a.name for a in attachments))) if tokens else None
    return prepare_fields(fields), toks


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


def _pack(
    item: Item | Rejected, key: bytes, hasher: TokenHasher, tokens: bool = True
) -> tuple[Any, ...]:
    if type(item) is not Record:
        return (item, key, None)
    prep = prepare(item, hasher, tokens)
    if prep is None:
        return (_pack_record(item), key, None)
    (seed, inner, payload), toks = prep
    if toks is None:
        return (_pack_record(item), key, (seed, inner, payload, None, None))
    return (_pack_record(item), key, (seed, inner, payload, toks.positional, list(toks.bag)))


def _unpack(packed: tuple[Any, ...]) -> tuple[Keyed, Prep | None]:
    body, key, prep = packed
    item = _unpack_record(body) if type(body) is tuple else body
    if prep is None:
        return (item, key), None
    seed, inner, payload, positional, bag = prep
    toks = None if positional is None else DocTokens(positional, set(bag))
    return (item, key), ((seed, inner, payload), toks)


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
    # A sender thread drains a bounded queue into the pipe, so this thread keeps preparing
    # up to AHEAD_BATCHES batches while the parent is busy (validating, acquiring, writing).
    ahead: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD_BATCHES)
    sender = threading.Thread(target=_send_all, args=(send, ahead), daemon=True)
    sender.start()

    def put(message: bytes | None) -> bool:
        while sender.is_alive():  # gone: the parent closed the pipe (or was killed)
            try:
                ahead.put(message, timeout=_PUT_WAIT_S)
                return True
            except queue.Full:
                continue
        return False

    try:
        for batch in make_batches():
            # Tokenising is the part the writer can do as well: an empty queue means the
            # parent has taken every batch and waits for this one, so it tokenises this
            # batch itself; while batches queue up, the parent is the slower one.
            tokens = ahead.qsize() > 0
            packed = [_pack(item, key, hasher, tokens) for item, key in batch]
            if not put(_dumps(("batch", packed))):
                return
        put(_dumps(("end", None)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        put(_dumps(("error", _picklable(exc))))
    finally:
        put(None)
        sender.join()
        send.close()


def _dumps(message: tuple[str, Any]) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def _send_all(send: Connection, ahead: queue.Queue[bytes | None]) -> None:
    """Send queued messages until the None that ends them; stop if the parent is gone."""
    with contextlib.suppress(BrokenPipeError, OSError):
        while (message := ahead.get()) is not None:
            send.send_bytes(message)


def _picklable(exc: BaseException) -> BaseException:
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


class Producer:
    """The batches ``make_batches`` gives, made in a child process, with their preps.

    The child starts at once (so it can run ahead while the caller validates the file) and
    is killed by ``close`` (or at the end). Iterating yields ``(batch, preps)``, the preps
    keyed by ``id(item)``. ``make_batches`` runs in the child only: it must open its own file
    handles.
    """

    def __init__(
        self, make_batches: Callable[[], Iterator[list[Keyed]]], hasher: TokenHasher
    ) -> None:
        ctx = multiprocessing.get_context("fork")
        self._recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_child, args=(os.getpid(), self._recv, send, make_batches, hasher), daemon=True
        )
        self._proc.start()
        send.close()  # the child holds the only write end: EOF when it exits
        self._closed = False

    def __iter__(self) -> Producer:
        return self

    def __next__(self) -> tuple[list[Keyed], dict[int, Prep] | None]:
        if self._closed:
            raise StopIteration
        try:
            tag, body = self._recv.recv()
        except EOFError:
            self.close()
            raise ChatCustodyError("the parser process ended unexpectedly") from None
        if tag == "end":
            self.close()
            raise StopIteration
        if tag == "error":
            self.close()
            raise body
        batch: list[Keyed] = []
        preps: dict[int, Prep] = {}
        for packed in body:
            keyed, prep = _unpack(packed)
            batch.append(keyed)
            if prep is not None:
                preps[id(keyed[0])] = prep
        return batch, preps

    def close(self) -> None:
        """Stop the child (at once if it is still working) and release the pipe."""
        if self._closed:
            return
        self._closed = True
        self._recv.close()
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join()


def produce(make_batches: Callable[[], Iterator[list[Keyed]]], hasher: TokenHasher) -> Producer:
    """Start a producer process for ``make_batches``; iterate the result for its batches."""
    return Producer(make_batches, hasher)


__all__ = ["Keyed", "Prep", "Producer", "can_fork", "prepare", "produce", "record_fields"]

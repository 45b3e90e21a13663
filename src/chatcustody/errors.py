"""The project's one exception tree.

Every error the library raises derives from :class:`ChatCustodyError` and carries
an ``exit_code`` (for the CLI) and an ``http_status`` (for the API); each adapter
maps them in exactly one place::

    ChatCustodyError                 exit 1   HTTP 500
    ├── UsageError                   exit 2   HTTP 400   bad arguments, bad settings
    ├── VaultNotFoundError           exit 3   HTTP 404   no vault at the given place
    ├── VaultExistsError             exit 3   HTTP 409   init over an existing vault
    ├── WrongPassphraseError         exit 4   HTTP 401   the passphrase opens no key
    ├── BadInputError                exit 5   HTTP 422   an import file is malformed
    ├── NotFoundError                exit 6   HTTP 404   a named object does not exist
    ├── AccessDeniedError            exit 7   HTTP 403   decide() said no
    ├── AuthenticationError          exit 8   HTTP 401   bad credentials, expired or revoked session
    │   └── LockedOutError           exit 8   HTTP 429   too many failed logins: cool-down running
    ├── RateLimitedError             exit 9   HTTP 429   too many requests from one client
    ├── ConflictError                exit 2   HTTP 409   the name is taken, the action was decided
    ├── NotAvailableError            exit 1   HTTP 501   a feature this build does not have yet
    ├── ShreddedError                exit 11  HTTP 410   the conversation was crypto-shredded
    └── IntegrityError               exit 10  HTTP 500   tampering or corruption: never swallowed
        └── ProofError               exit 10  HTTP 422   a Merkle proof or signature does not verify
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class ChatCustodyError(Exception):
    """Root of every error chatcustody raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500


class UsageError(ChatCustodyError):
    """The caller asked for something malformed (arguments, settings)."""

    exit_code = 2
    http_status = 400


class VaultNotFoundError(ChatCustodyError):
    """No vault exists at the given location."""

    exit_code = 3
    http_status = 404


class VaultExistsError(ChatCustodyError):
    """A vault already exists where ``init`` was asked to create one."""

    exit_code = 3
    http_status = 409


class WrongPassphraseError(ChatCustodyError):
    """The passphrase does not unwrap the vault's master key."""

    exit_code = 4
    http_status = 401


@dataclass(frozen=True)
class InputProblem:
    """One defect found in an input file: where it is and what is wrong."""

    path: str
    line: int | None
    reason: str
    record: str | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.record:
            where += f" (record {self.record})"
        return f"{where}: {self.reason}"


class BadInputError(ChatCustodyError):
    """An input file is malformed; nothing from it was committed."""

    exit_code = 5
    http_status = 422

    def __init__(self, problems: list[InputProblem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        head = "; ".join(str(p) for p in problems[:5])
        more = f" (and {self.total - 5} more)" if self.total > 5 else ""
        super().__init__(f"{head}{more}")


class NotFoundError(ChatCustodyError):
    """A named object (record, source, key, user) does not exist."""

    exit_code = 6
    http_status = 404


class AccessDeniedError(ChatCustodyError):
    """The access policy refused the action; the reason is the message."""

    exit_code = 7
    http_status = 403


class AuthenticationError(ChatCustodyError):
    """Credentials are wrong, or a session or token is unknown, expired or revoked."""

    exit_code = 8
    http_status = 401


class LockedOutError(AuthenticationError):
    """Too many failed logins: the account refuses logins until its cool-down ends."""

    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimitedError(ChatCustodyError):
    """One client sent too many requests of a limited kind (logins)."""

    exit_code = 9
    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ConflictError(ChatCustodyError):
    """The request conflicts with the current state: a taken name, a decided action."""

    exit_code = 2
    http_status = 409


class NotAvailableError(ChatCustodyError):
    """The feature asked for is not part of this build (yet)."""

    exit_code = 1
    http_status = 501


class ShreddedError(ChatCustodyError):
    """The conversation's data key was destroyed (crypto-shredded): its content is gone."""

    exit_code = 11
    http_status = 410


class IntegrityError(ChatCustodyError):
    """The vault's content does not match its ledger, hash or tag: tampering or corruption."""

    exit_code = 10
    http_status = 500


class ProofError(IntegrityError):
    """A Merkle inclusion/consistency proof or a signature does not verify."""

    http_status = 422

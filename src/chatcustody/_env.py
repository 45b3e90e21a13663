"""Facts about the running process that custody events record: who, where, with what."""

from __future__ import annotations

import getpass
import platform
import socket
import time
from typing import Any

from chatcustody import TOOL_NAME, __version__


def now_ms() -> int:
    """Return the current UTC instant in milliseconds."""
    return time.time_ns() // 1_000_000


def os_user() -> str:
    """Return the operating-system user running this process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def environment() -> dict[str, Any]:
    """Return the operation-log facts: OS user, host, tool and version, platform."""
    return {
        "os_user": os_user(),
        "host": socket.gethostname(),
        "tool": TOOL_NAME,
        "tool_version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }

"""chatcustody: chat records in safe custody.

Acquire chat exports, keep them encrypted and tamper-evident, search them, and release
them only under approval. The library is the product; ``cli`` and ``web`` are thin adapters.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("chatcustody")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

TOOL_NAME = "chatcustody"

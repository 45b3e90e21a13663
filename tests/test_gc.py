"""quiet_gc: bulk work collects rarely, and the process gets its settings back afterwards."""

from __future__ import annotations

import gc
import threading

import pytest

from chatcustody._gc import quiet_gc


def test_nested_and_overlapping_blocks_restore_the_settings_once() -> None:
    """The first block in changes the thresholds, the last one out restores them, even
    when blocks overlap across threads and one ends with an exception."""
    before = gc.get_threshold()
    entered, release = threading.Event(), threading.Event()

    def other_thread() -> None:
        with quiet_gc():
            entered.set()
            release.wait(10)

    worker = threading.Thread(target=other_thread)
    with quiet_gc():
        bulk = gc.get_threshold()
        assert bulk[0] > before[0]
        assert gc.get_freeze_count() > 0
        worker.start()
        assert entered.wait(10)
        with pytest.raises(RuntimeError), quiet_gc():
            raise RuntimeError("an import failed")
        assert gc.get_threshold() == bulk
    assert gc.get_threshold() == bulk  # the other thread is still inside
    release.set()
    worker.join(10)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0

"""The bytes of decoded pixels the threads of the process hold at once (`Dataset.open` reads in threads; image
decoding releases the GIL): each thread holds a file's decoded size, from its header (seg/data/images.py), while it
decodes and uses it."""

from __future__ import annotations

import contextlib
import threading
from collections import deque

from seg.data.images import MAX_DECODED_BYTES


class DecodeBudget:
    """The bytes of decoded pixels that threads hold at once, first come first served: a thread holds a
    file's decoded size (from `header`) while it decodes and uses it. A hold past the total is cut to it
    (that file is then read alone)."""

    def __init__(self, total: int):
        self.total = self.free = total
        self._turns: deque = deque()
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, nbytes: int):
        n, turn = min(max(int(nbytes), 0), self.total), object()
        with self._cond:
            self._turns.append(turn)
            try:
                self._cond.wait_for(lambda: self._turns[0] is turn and self.free >= n)
            finally:
                self._turns.remove(turn)
                self._cond.notify_all()
            self.free -= n
        try:
            yield
        finally:
            with self._cond:
                self.free += n
                self._cond.notify_all()


DECODING = DecodeBudget(MAX_DECODED_BYTES)  # one for the whole process: every viewer's datasets together

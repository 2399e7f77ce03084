"""How fast anyone may guess the shared password: wrong tries counted per client address and over the
whole server, each kind with a growing wait, and a lock-out for an address that keeps failing.

A session of its own is cheap (every new WebSocket connection is one), so a wait per session would
slow nobody: these counts live in the server process, shared by all its sessions. A try that comes
while a wait runs is refused unchecked, so parallel sessions gain nothing. A restart clears them.

The address is the one the server sees: behind a reverse proxy on this machine, the client address the proxy
puts in X-Forwarded-For (Streamlit's server, uvicorn, trusts that header from 127.0.0.1 and ::1 only, see
docs/sharing.md), else the TCP peer. Whoever forges it (from this machine) still meets the server-wide limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from seg.util import duration

WINDOW_S = 15 * 60  # failures older than this are forgotten
FREE_TRIES = 3  # an address's first wrong tries cost nothing: typos
LOCK_AFTER = 10  # wrong tries from one address within the window: locked out
LOCKOUT_S = 15 * 60
MAX_WAIT_S = 60.0  # the longest wait between two tries from one address, short of a lock-out
# Server-wide, whatever the addresses: after this many failures in the window, every try anywhere
# waits this long after the previous one (the person with the password waits too, at most that).
SERVER_STEPS = ((200, 30.0), (50, 5.0), (10, 1.0))


@dataclass(frozen=True)
class Verdict:
    "Whether a try may be checked now; when not, how long to wait and why, in a sentence for the user."

    wait_s: float = 0.0
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.wait_s <= 0

    def message(self) -> str:
        return f"{self.reason} Try again in {duration(max(1, self.wait_s))}."


class Throttle:
    "Thread-safe: the sessions' script threads call it at once."

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.failures: dict[str, deque[float]] = {}  # address -> times of its wrong tries in the window
        self.all_failures: deque[float] = deque()
        self.last_try: dict[str, float] = {}
        self.last_try_anywhere = float("-inf")

    def begin(self, address: str | None) -> Verdict:
        """Ask to check one try from `address` (None: this machine). When allowed, the try counts as a
        wrong one from now on, until `succeeded` says otherwise: so sessions trying at the same moment
        meet the waits their tries together earn, not each its own."""
        address = address or "this machine"
        with self.lock:
            now = self.clock()
            verdict = self._verdict(address, now)
            if verdict.allowed:
                self.last_try[address] = self.last_try_anywhere = now
                self.failures.setdefault(address, deque()).append(now)
                self.all_failures.append(now)
            return verdict

    def tries_left(self, address: str | None) -> int:
        "How many more wrong passwords `address` may give before it is locked out."
        with self.lock:
            return max(0, LOCK_AFTER - len(self.failures.get(address or "this machine", ())))

    def succeeded(self, address: str | None) -> None:
        "The right password: the try just begun was not a failure, and that address starts afresh."
        address = address or "this machine"
        with self.lock:
            mine = self.failures.pop(address, None)
            if mine and mine[-1] in self.all_failures:
                self.all_failures.remove(mine[-1])

    def _forget(self, now: float) -> None:
        for q in (*self.failures.values(), self.all_failures):
            while q and q[0] < now - WINDOW_S:
                q.popleft()

    def _verdict(self, address: str, now: float) -> Verdict:
        self._forget(now)
        mine = self.failures.get(address, ())
        if len(mine) >= LOCK_AFTER:
            return Verdict(mine[-1] + LOCKOUT_S - now, f"Signing in from your address is locked after {len(mine)} "
                                                       "wrong passwords.")
        waits = []
        if len(mine) >= FREE_TRIES:
            gap = min(MAX_WAIT_S, 2.0 ** (len(mine) - FREE_TRIES))
            waits.append((self.last_try.get(address, float("-inf")) + gap - now,
                          f"{len(mine)} wrong passwords from your address: each try waits longer."))
        for count, gap in SERVER_STEPS:
            if len(self.all_failures) >= count:
                waits.append((self.last_try_anywhere + gap - now,
                              "This app is receiving many wrong passwords, so every try waits."))
                break
        wait, reason = max(waits, default=(0.0, ""))
        return Verdict(wait, reason) if wait > 0 else Verdict()

"""Who may do what when the app is shared: an optional password, a read-only (demo) mode, and the
folders a path typed into the app may name.

Settings come from the environment (SEGBOARD_PASSWORD, SEGBOARD_READ_ONLY, SEGBOARD_ROOTS) or, for
the app, from `.streamlit/secrets.toml` (`password`, `read_only`, `roots`); the environment wins.
The CLI is not confined: whoever types a command already has the machine."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import workspace
from .settings import SettingsError

ENV_PASSWORD = "SEGBOARD_PASSWORD"
ENV_READ_ONLY = "SEGBOARD_READ_ONLY"
ENV_ROOTS = "SEGBOARD_ROOTS"  # folders separated by os.pathsep (":" on Linux)
TRUE = ("1", "true", "yes", "on")


class AccessError(SettingsError):
    "Something the sharing settings forbid; the message says what and who can change it."


@dataclass(frozen=True)
class Sharing:
    password: str | None = field(default=None, repr=False)  # never in a repr, a log line or a traceback
    read_only: bool = False
    roots: tuple[Path, ...] = ()

    @classmethod
    def configured(cls, secrets: Mapping | None = None, env: Mapping | None = None) -> Sharing:
        env = os.environ if env is None else env
        secrets = secrets or {}
        password = env.get(ENV_PASSWORD) or secrets.get("password") or None
        read_only = env.get(ENV_READ_ONLY, secrets.get("read_only", False))
        read_only = str(read_only).strip().lower() in TRUE
        roots = env.get(ENV_ROOTS)
        roots = roots.split(os.pathsep) if roots is not None else secrets.get("roots", [])
        if isinstance(roots, str):
            roots = [roots]
        return cls(str(password) if password else None, read_only,
                   tuple(Path(r).expanduser().resolve() for r in roots if str(r).strip()))

    @property
    def shared(self) -> bool:
        "Set up for colleagues: behind a password or read-only."
        return bool(self.password) or self.read_only

    @property
    def confined_to(self) -> tuple[Path, ...]:
        """The folders a typed path must lie under: the configured roots, and always the workspace (demo,
        uploads, runs). Empty (no limit) only when nothing is configured and the app is not shared."""
        if not self.roots and not self.shared:
            return ()
        return (workspace.home(), *self.roots)

    def check_password(self, typed: str) -> bool:
        "Constant time whatever the lengths: both sides are hashed first."
        if not self.password:
            return True
        digest = lambda s: hashlib.sha256(str(s).encode("utf-8")).digest()  # noqa: E731
        return hmac.compare_digest(digest(typed), digest(self.password))

    def confine(self, path) -> Path:
        "The path, resolved (links followed, `..` removed), or AccessError when it lies outside the roots."
        resolved = Path(path).expanduser().resolve()
        roots = self.confined_to
        if roots and not any(resolved == r or r in resolved.parents for r in roots):
            raise AccessError(f"{path} is outside the folders this app may read ({', '.join(map(str, roots))}). "
                              f"Put the data under one of them, or ask whoever runs the app to add its folder "
                              f"to {ENV_ROOTS}.")
        return resolved

    def require_writable(self, what: str) -> None:
        if self.read_only:
            raise AccessError(f"This app is read-only (demo mode): {what} is switched off. You can browse data, "
                              "runs and predictions.")


def network_address() -> str | None:
    """This machine's address on its network, as a colleague's browser would reach it (the interface of
    the default route; no packet is sent). None without a network."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def describe(sharing: Sharing, port: int) -> list[str]:
    "What `make run` prints: where to open the app and how it is shared. Says whether a password is set, never it."
    host = network_address()
    lines = [f"segboard: open http://localhost:{port}",
             f"  colleagues: http://{host}:{port}" if host else "  colleagues: no network address found",
             f"  password: {'set' if sharing.password else f'none (set {ENV_PASSWORD} or .streamlit/secrets.toml)'}",
             f"  read-only: {'on' if sharing.read_only else 'off'}"]
    roots = sharing.confined_to
    lines.append(f"  folders the app may read: {', '.join(map(str, roots))}" if roots else
                 "  folders the app may read: any (set SEGBOARD_ROOTS before sharing)")
    return lines

"""Who may do what when the app is shared: an optional password, a read-only (demo) mode, and the
folders a path typed into the app may name.

Settings come from the environment (SEGBOARD_PASSWORD, SEGBOARD_READ_ONLY, SEGBOARD_ROOTS) or, for
the app, from `.streamlit/secrets.toml` (`password`, `read_only`, `roots`); the environment wins.
The CLI is not confined: whoever types a command already has the machine."""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from seg.errors import AccessError
from seg.server import workspace

ENV_PASSWORD = "SEGBOARD_PASSWORD"
ENV_READ_ONLY = "SEGBOARD_READ_ONLY"
ENV_ROOTS = "SEGBOARD_ROOTS"  # folders separated by os.pathsep (":" on Linux)
TRUE = ("1", "true", "yes", "on")


MAX_PATH = 4096  # Linux's PATH_MAX, in bytes
MAX_NAME = 255  # one file or folder name, in bytes
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def typed_path(text: str) -> str:
    """A path as typed or pasted (or given in the address, `?data=`), checked as text before anything
    touches the disk: surrounding blanks and quotes from "Copy as path" removed; a NUL byte, another control
    character, or a length no file system holds is an AccessError with a sentence, not an OSError."""
    text = str(text).strip().strip("\"'")
    for i, ch in enumerate(text):
        if ch == "\x00":
            raise AccessError(f"The path holds a NUL character (at position {i + 1}), which no path can contain. "
                              "Type or paste the folder's path again.")
        if unicodedata.category(ch) == "Cc":
            raise AccessError(f"The path holds a control character (U+{ord(ch):04X} at position {i + 1}), as a "
                              "paste with a line break or a tab gives. Type or paste the folder's path again.")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise AccessError("The path holds characters that are not valid text. Type or paste it again.") from None
    if len(raw) > MAX_PATH or any(len(part.encode("utf-8")) > MAX_NAME for part in text.split("/")):
        raise AccessError(f"The path is {len(text):,} characters long; a path here holds at most {MAX_PATH:,} bytes "
                          f"and each folder name {MAX_NAME}. Check what was pasted.")
    return text


@dataclass(frozen=True)
class Access:
    """What one viewer of the app may read, checked on every path the app opens, not only the one typed:
    everything lies under one of `roots` (none: anywhere), and never under `private` (segboard's own
    bookkeeping: other sessions' uploads, runs, locks), except under `own` (this viewer's uploads).
    Paths are compared resolved: links followed, `..` removed."""

    roots: tuple[Path, ...] = ()
    private: tuple[Path, ...] = ()
    own: tuple[Path, ...] = ()

    @classmethod
    def machine(cls) -> Access:
        """The command line's reading: the whole machine (whoever types a command has it already). Every
        function that lists or opens a user's files takes an Access and has no default for it, so a caller
        that forgets cannot read unconfined by accident: the CLI says so, with this one."""
        return cls()

    @classmethod
    def within(cls, roots, dataset: Path) -> Access:
        """A training or prediction process's reading of a dataset the app chose: under `roots` (the app's
        allowed folders; none: no limit), outside segboard's own folders except the dataset's own."""
        if not roots:
            return cls.machine()
        return cls(tuple(Path(r).resolve() for r in roots), workspace.private_dirs(), (Path(dataset).resolve(),))

    @property
    def limited(self) -> bool:
        return bool(self.roots or self.private)

    def refusal(self, resolved: Path) -> str | None:
        "Why a resolved path may not be read, or None when it may."
        def under(folders):
            return any(resolved == f or f in resolved.parents for f in folders)
        if self.roots and not under(self.roots):
            return (f"outside the folders this app may read ({', '.join(map(str, self.roots))}). Put the data under "
                    f"one of them, or ask whoever runs the app to add its folder to {ENV_ROOTS}.")
        if under(self.private) and not under(self.own):
            return ("one of segboard's own folders (uploads private to their sessions, runs, predictions), which "
                    "are not read as data. Choose your dataset's own folder.")
        return None

    def allows(self, path: Path) -> bool:
        "Whether `path` (resolved here) may be read; unreadable paths are not."
        try:
            return self.refusal(Path(path).resolve()) is None
        except (OSError, RuntimeError):  # a link loop
            return False

    def check(self, path) -> Path:
        "The path, checked as text, then resolved; AccessError says why it may not be read."
        text = typed_path(path)
        try:
            resolved = Path(text).expanduser().resolve()
        except (OSError, RuntimeError) as e:  # RuntimeError: a link loop (Python 3.11)
            raise AccessError(f"{text} cannot be followed ({e}). Give the folder's real path.") from None
        why = self.refusal(resolved)
        if why:
            raise AccessError(f"{text} is {why}")
        return resolved


@dataclass(frozen=True)
class Sharing:
    password: str | None = field(default=None, repr=False)  # never in a repr, a log line or a traceback
    read_only: bool = False
    roots: tuple[Path, ...] = ()
    exposed: bool = False  # served on the network (not only to this machine)

    @classmethod
    def configured(cls, secrets: Mapping | None = None, env: Mapping | None = None, address: str | None = None
                   ) -> Sharing:
        """The settings from the environment and the secrets; `address`: the one the server listens on
        (Streamlit's `server.address`; empty: every interface)."""
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
                   tuple(Path(r).expanduser().resolve() for r in roots if str(r).strip()),
                   exposed=address is not None and not is_loopback(address))

    @property
    def shared(self) -> bool:
        "Others can reach it: behind a password, read-only, or served on the network."
        return bool(self.password) or self.read_only or self.exposed

    @property
    def open_to_network(self) -> bool:
        "Served on the network with no password: anyone who reaches the port uses it (then reads are confined)."
        return self.exposed and not self.password

    @property
    def confined_to(self) -> tuple[Path, ...]:
        """The folders a typed path must lie under: the configured roots, and always the workspace (demo,
        uploads, runs). Empty (no limit) only when nothing is configured and the app is not shared."""
        if not self.roots and not self.shared:
            return ()
        return (workspace.home(), *self.roots)

    def access(self, own: tuple[Path, ...] = ()) -> Access:
        "What a viewer may read; `own`: their own uploads folder, inside segboard's private ones."
        return Access(self.confined_to, workspace.private_dirs(), tuple(Path(o).resolve() for o in own))

    def check_password(self, typed: str) -> bool:
        "Constant time whatever the lengths: both sides are hashed first."
        if not self.password:
            return True
        digest = lambda s: hashlib.sha256(str(s).encode("utf-8")).digest()  # noqa: E731
        return hmac.compare_digest(digest(typed), digest(self.password))

    def confine(self, path, own: tuple[Path, ...] = ()) -> Path:
        "The path, resolved (links followed, `..` removed), or AccessError when this viewer may not read it."
        return self.access(own).check(path)

    def require_writable(self, what: str) -> None:
        if self.read_only:
            raise AccessError(f"This app is read-only (demo mode): {what} is switched off. You can browse data, "
                              "runs and predictions.")


def is_loopback(address: str) -> bool:
    "An address only this machine reaches (127.x, ::1, localhost); empty or 0.0.0.0 is every interface."
    address = (address or "").strip().strip("[]")
    return address in LOOPBACK or address.startswith("127.")


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


def serve_address(sharing: Sharing, given: str | None = None) -> str:
    """Where the server listens: the address given, else the network when a password guards the app, else
    this machine only (no password: nobody else should reach it unless the person who runs it says so)."""
    if given:
        return given
    return "0.0.0.0" if sharing.password else "127.0.0.1"


def describe(sharing: Sharing, port: int) -> list[str]:
    """What `make run` prints: where to open the app and how it is shared. Says whether a password is set,
    never the password; warns when the app is open to the network without one."""
    lines = [f"segboard: open http://localhost:{port}"]
    if not sharing.exposed:
        lines.append("  colleagues: none; the app listens on this machine only. To share it, set a password "
                     f"({ENV_PASSWORD} or .streamlit/secrets.toml) and start it again")
    else:
        host = network_address()
        lines.append(f"  colleagues: http://{host}:{port}" if host else "  colleagues: no network address found")
        if sharing.open_to_network:
            lines.append(f"  WARNING: served on the network with no password: anyone who reaches port {port} can use "
                         f"the app and read the folders below. Set {ENV_PASSWORD} to require one.")
    lines += [f"  password: {'set' if sharing.password else f'none (set {ENV_PASSWORD} or .streamlit/secrets.toml)'}",
              f"  read-only: {'on' if sharing.read_only else 'off'}"]
    roots = sharing.confined_to
    lines.append(f"  folders the app may read: {', '.join(map(str, roots))}" if roots else
                 "  folders the app may read: any (set SEGBOARD_ROOTS before sharing)")
    return lines

"""The `share` and `serve` commands: how the app is shared (its secrets file, the address it listens on), said
before the Streamlit server starts; seg/cli/__init__.py declares them and their options."""

from __future__ import annotations

import sys
from pathlib import Path

from seg.errors import SettingsError
from seg.util import PROJECT


def secrets_file(args) -> Path:
    "The secrets file `--secrets` names (default: the project's .streamlit/secrets.toml), absolute."
    if args.secrets is None:
        return PROJECT / ".streamlit" / "secrets.toml"
    given = Path(args.secrets).expanduser().resolve()
    if not given.is_file():
        raise SettingsError(f"{args.secrets} is not a file: give the app's secrets file (see "
                            ".streamlit/secrets.toml.example), or leave --secrets out.")
    return given


def sharing_of(args):
    "The app's sharing settings as the server will see them, and the address it listens on."
    import tomllib

    from seg.server.sharing import Sharing, serve_address
    secrets = secrets_file(args)
    try:
        values = tomllib.loads(secrets.read_text()) if secrets.is_file() else {}
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SettingsError(f"{secrets} could not be read ({e}); fix it or remove it.") from None
    address = serve_address(Sharing.configured(values), args.address)
    return Sharing.configured(values, address=address), address


def cmd_share(args) -> int:
    from seg.server.sharing import describe
    sharing, address = sharing_of(args)
    print("\n".join(describe(sharing, args.port)))
    return 0


def serve_argv(args, address: str) -> list[str]:
    """The Streamlit server `serve` becomes. It reads the secrets file `serve` read, and only that one
    (`--secrets.files`; otherwise Streamlit reads the project's and ~/.streamlit/secrets.toml), so the password
    the start-up lines report is the one the app asks for."""
    return [sys.executable, "-m", "streamlit", "run", str(PROJECT / "app.py"), "--server.port", str(args.port),
            "--server.address", address, "--secrets.files", str(secrets_file(args))]


def cmd_serve(args) -> int:
    """Print how the app is shared, then become the Streamlit server (what `make run` does): on this machine
    only unless a password is set or an address is given."""
    import os

    from seg.server.sharing import describe
    sharing, address = sharing_of(args)
    print("\n".join(describe(sharing, args.port)), flush=True)
    argv = serve_argv(args, address)
    os.chdir(PROJECT)  # Streamlit reads .streamlit/config.toml from the current folder
    os.execv(argv[0], argv)

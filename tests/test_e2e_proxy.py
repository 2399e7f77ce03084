"""Behind a reverse proxy on this machine (docs/sharing.md): every colleague reaches the app from 127.0.0.1,
so the sign-in throttle must count wrong passwords per address the proxy reports in X-Forwarded-For, or one
person's wrong tries would make everyone wait and then lock everyone out. Streamlit's server (uvicorn)
takes that header from a peer on 127.0.0.1 or ::1 only; a client's own copy is replaced by the proxy."""

import asyncio
import urllib.parse
from contextlib import asynccontextmanager

import pytest
from served import serve
from st_socket import Session, sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "plate reader 7"


@asynccontextmanager
async def proxy(upstream: str):
    """A reverse proxy set up as docs/sharing.md sets nginx up: each connection's request goes on to `upstream`
    with `X-Forwarded-For: <the address the connection came from>` in place of any the client sent, then the
    bytes flow both ways untouched (the WebSocket). One request a connection, as a WebSocket makes. Yields
    its own URL."""
    up = urllib.parse.urlsplit(upstream)

    async def pipe(reader, writer):
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def forward(client_r, client_w):
        peer = client_w.get_extra_info("peername")[0]
        head = (await client_r.readuntil(b"\r\n\r\n")).split(b"\r\n")[:-2]
        head = [h for h in head if not h.lower().startswith(b"x-forwarded-for:")]
        head.append(b"X-Forwarded-For: " + peer.encode())
        up_r, up_w = await asyncio.open_connection(up.hostname, up.port)
        up_w.write(b"\r\n".join(head) + b"\r\n\r\n")
        await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))

    server = await asyncio.start_server(forward, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def wrong(session: Session, form, n: int) -> str:
    "`n` wrong passwords in a row, as fast as the server answers; what the last one drew."
    for i in range(n):
        _, after = await sign_in(session, f"guess {i}", form)
    return after.text()


async def through_a_proxy(url: str) -> None:
    async with proxy(url) as front:
        # one colleague (127.0.0.2 as the proxy sees it) mistypes: three free tries, then waits of their own
        async with Session(front, source="127.0.0.2") as a:
            form = await a.run()
            assert "Wrong password" in await wrong(a, form, 3)
            said = await wrong(a, form, 1)
            assert "3 wrong passwords from your address" in said and "Try again in 1 s" in said, said
            await asyncio.sleep(1.1)
            assert "Wrong password" in await wrong(a, form, 1)
            await asyncio.sleep(2.1)
            said = await wrong(a, form, 1)  # the fifth: half-way to the lock, said so
            assert "5 more wrong tries from your address lock signing in for 15 minutes" in said, said
        # forging the header does not make that colleague someone else: the proxy writes its own
        async with Session(front, {"X-Forwarded-For": "198.51.100.99"}, source="127.0.0.2") as forged:
            said = await wrong(forged, await forged.run(), 1)
            assert "5 wrong passwords from your address" in said and "Try again in" in said, said
        # another colleague, through the same proxy, signs in at once: their address has no wrong tries
        async with Session(front, source="127.0.0.3") as b:
            form, after = await sign_in(b, PASSWORD)
            assert "Password" in form.widgets and "Password" not in after.widgets, after.text()
            assert not any("Try again" in t or "Wrong" in t for t in after.texts), after.text()


def test_behind_a_proxy_each_client_address_has_its_own_count(tmp_path):
    with serve(tmp_path / "home", tmp_path, env={"SEGBOARD_PASSWORD": PASSWORD}) as url:
        asyncio.run(through_a_proxy(url))

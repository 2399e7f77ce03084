"""A Streamlit client over the raw WebSocket, as an attacker scripts one: no browser, a new session per
connection, widget values sent directly in Streamlit's own protobuf messages (BackMsg / ForwardMsg)."""

from __future__ import annotations

import asyncio
import http.client
import urllib.parse
import uuid
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


@dataclass
class Screen:
    "What one script run drew: the widgets by label and every text shown (alerts, markdown, titles)."

    widgets: dict[str, object] = field(default_factory=dict)  # label -> the element's proto
    texts: list[str] = field(default_factory=list)
    components: list = field(default_factory=list)  # custom components (v2) drawn: their BidiComponent protos

    def text(self) -> str:
        return "\n".join(self.texts)


class Session:
    """One connection = one Streamlit session. `headers`: extra HTTP headers (X-Forwarded-For ...); `source`:
    the address to connect from (127.0.0.2 ...: another client on this machine, as a proxy sees it)."""

    def __init__(self, url: str, headers: dict | None = None, source: str | None = None):
        self.url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.headers = headers or {}
        self.source = source
        self.ws = None

    async def __aenter__(self) -> Session:
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], additional_headers=self.headers,
                                           max_size=None, open_timeout=30,
                                           **({"local_addr": (self.source, 0)} if self.source else {}))
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def run(self, values: list | None = None, timeout: float = 60, page: str | None = None,
                  query: str | None = None) -> Screen:
        """Run the script with widget `values` ([(proto or widget id, field, value)], for the widgets of a
        previous screen), on `page` (its name in the address, e.g. "label") with the address's `query`
        ("data=/some/folder"), and collect what it draws until it finishes."""
        msg = BackMsg()
        state = msg.rerun_script
        state.SetInParent()  # an empty rerun request is still one
        if page is not None:
            state.page_name = page
        if query is not None:
            state.query_string = query
        for proto, kind, value in values or ():
            w = state.widget_states.widgets.add()
            w.id = proto if isinstance(proto, str) else proto.id
            if kind == "string_array_value":  # a segmented control or multiselect: the formatted options
                w.string_array_value.data.extend(value)
            else:
                setattr(w, kind, value)
        await self.ws.send(msg.SerializeToString())
        screen = Screen()
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await asyncio.wait_for(self.ws.recv(), timeout))
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fwd.new_session.initialize.session_id
            if kind == "script_finished":
                if fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:  # st.rerun(): the next run draws
                    screen = Screen()
                    continue
                return screen
            if kind != "delta" or fwd.delta.WhichOneof("type") != "new_element":
                continue
            element = fwd.delta.new_element
            which = element.WhichOneof("type")
            proto = getattr(element, which)
            if which == "bidi_component":
                screen.components.append(proto)
            if hasattr(proto, "label") and hasattr(proto, "id") and proto.id:
                screen.widgets[proto.label] = proto
            for name in ("body", "text"):
                if hasattr(proto, name) and isinstance(getattr(proto, name), str):
                    screen.texts.append(getattr(proto, name))


async def sign_in(session: Session, password: str, form: Screen | None = None) -> tuple[Screen, Screen]:
    """Type `password` into the sign-in form and press Sign in, as a browser does (both in one run, as a
    form sends them). Returns (the form's screen, the screen after the press)."""
    form = form or await session.run()
    field_, button = form.widgets["Password"], form.widgets["Sign in"]
    after = await session.run([(field_, "string_value", password), (button, "trigger_value", True)])
    return form, after


async def download(session: Session, button, timeout: float = 120) -> tuple[str, str]:
    """Ask for a download button's file as a browser does when it is clicked (a button whose data is made on
    demand: `deferred_file_id`): (the address it is served at, or "", and Streamlit's error, or "")."""
    msg = BackMsg()
    request = msg.backend_operation_request
    request.request_id = uuid.uuid4().hex
    request.session_id = session.session_id
    request.deferred_file.file_id = button.deferred_file_id
    await session.ws.send(msg.SerializeToString())
    while True:
        fwd = ForwardMsg()
        fwd.ParseFromString(await asyncio.wait_for(session.ws.recv(), timeout))
        kind = fwd.WhichOneof("type")
        if kind and "backend_operation" in kind:
            reply = getattr(fwd, kind)
            return reply.deferred_file.url, reply.error_msg


# Any hex will do: Streamlit only compares the X-Xsrftoken header with the _streamlit_xsrf cookie, and a script
# sets both.
XSRF = "5e9f" * 8


def upload(url: str, session_id: str, size: int = 0, data: bytes | None = None, name: str = "a.zip",
           timeout: float = 120) -> tuple[int, bytes]:
    """PUT one file to Streamlit's upload route for `session_id`, as the file uploader does (multipart) and as a
    script does it: with an XSRF cookie and header of its own. The file is `data`, or `size` zero bytes sent
    a MiB at a time (the test's memory stays small). (status, body); status 0 when the server hung up."""
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    n = len(data) if data is not None else size
    where = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=timeout)
    try:
        conn.putrequest("PUT", f"{where.path.rstrip('/')}/_stcore/upload_file/{session_id}/{uuid.uuid4()}")
        for k, v in (("Content-Type", f"multipart/form-data; boundary={boundary}"),
                     ("Content-Length", str(len(head) + n + len(tail))),
                     ("Cookie", f"_streamlit_xsrf={XSRF}"), ("X-Xsrftoken", XSRF)):
            conn.putheader(k, v)
        conn.endheaders()
        try:
            conn.send(head)
            if data is not None:
                conn.send(data)
            else:
                chunk = bytes(1 << 20)
                for start in range(0, n, len(chunk)):
                    conn.send(chunk[: n - start])
            conn.send(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (and closed) before the whole body was sent: read the answer
        try:
            r = conn.getresponse()
            return r.status, r.read()
        except (ConnectionError, http.client.HTTPException):
            return 0, b""
    finally:
        conn.close()


def component_event(component, event: str, value) -> tuple[str, str, str]:
    """A widget value that makes a custom component (v2) report `event` with `value`, as its frontend's
    setTriggerValue does: one JSON list of payloads on the component's trigger aggregator widget. `value` goes
    as JSON text as it is when a str (a script may send what no browser would: Infinity, huge lists)."""
    import json

    from streamlit.components.v2.bidi_component.main import _make_trigger_id
    text = value if isinstance(value, str) else json.dumps(value)
    payload = f'[{{"event": {json.dumps(event)}, "value": {text}}}]'
    return _make_trigger_id(component.id, "events"), "json_trigger_value", payload

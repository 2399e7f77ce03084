"""A Streamlit client over the raw WebSocket, as an attacker scripts one: no browser, a new session per
connection, widget values sent directly in Streamlit's own protobuf messages (BackMsg / ForwardMsg)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


@dataclass
class Screen:
    "What one script run drew: the widgets by label and every text shown (alerts, markdown, titles)."

    widgets: dict[str, object] = field(default_factory=dict)  # label -> the element's proto
    texts: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.texts)


class Session:
    "One connection = one Streamlit session. `headers`: extra HTTP headers (X-Forwarded-For ...)."

    def __init__(self, url: str, headers: dict | None = None):
        self.url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.headers = headers or {}
        self.ws = None

    async def __aenter__(self) -> Session:
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], additional_headers=self.headers,
                                           max_size=None, open_timeout=30)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def run(self, values: list | None = None, timeout: float = 60) -> Screen:
        """Run the script with widget `values` ([(proto, field, value)], for the widgets of a previous screen)
        and collect what it draws until it finishes."""
        msg = BackMsg()
        state = msg.rerun_script
        state.SetInParent()  # an empty rerun request is still one
        for proto, kind, value in values or ():
            w = state.widget_states.widgets.add()
            w.id = proto.id
            setattr(w, kind, value)
        await self.ws.send(msg.SerializeToString())
        screen = Screen()
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await asyncio.wait_for(self.ws.recv(), timeout))
            kind = fwd.WhichOneof("type")
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

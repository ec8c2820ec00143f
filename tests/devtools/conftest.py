"""A tiny stand-in for the callbot server, playing the server's side of Twilio's protocol.

Each test gives it a `behaviour(ws, peer)` coroutine for the media socket and the TwiML it answers
on the webhooks; the peer records every request and every frame with its arrival time, so tests
can check what a real server would have received from `callbot simulate`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import socket
import struct
import threading
import time
import wave
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from twilio.request_validator import RequestValidator

Behaviour = Callable[[WebSocket, "Peer"], Awaitable[None]]
SILENCE = b"\xff" * 160


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Peer:
    url: str
    voice_twiml: Callable[[Peer], str] | None = None
    after_twiml: str = "<Response><Hangup/></Response>"
    behaviour: Behaviour | None = None
    auth_token: str | None = None
    webhooks: list[tuple[str, dict, dict]] = field(default_factory=list)  # (path, form, headers)
    frames: list[tuple[float, dict]] = field(default_factory=list)  # (arrival, message)
    ws_headers: dict = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)  # label → when the peer sent it
    closed_by_caller: bool = False

    def default_twiml(self) -> str:
        ws = self.url.replace("http://", "ws://")
        return ('<?xml version="1.0" encoding="UTF-8"?><Response>'
                f'<Connect action="{self.url}/twilio/after-stream" method="POST">'
                f'<Stream url="{ws}/twilio/media"><Parameter name="caller" value="+33611111111"/>'
                '<Parameter name="token" value="tok-123"/></Stream></Connect></Response>')

    def events(self, name: str) -> list[dict]:
        return [m for _, m in self.frames if m.get("event") == name]

    def media_payloads(self) -> list[bytes]:
        return [base64.b64decode(m["media"]["payload"]) for m in self.events("media")]

    inbox: asyncio.Queue | None = None

    async def reader(self, ws: WebSocket) -> None:
        """Record every frame the moment it arrives, whatever the behaviour is doing."""
        try:
            while True:
                raw = await ws.receive_text()
                msg = json.loads(raw)
                self.frames.append((time.perf_counter(), msg))
                self.inbox.put_nowait(msg)
        except (WebSocketDisconnect, RuntimeError):
            self.closed_by_caller = True
            self.inbox.put_nowait(None)

    async def next_message(self, ws: WebSocket) -> dict:  # noqa: ARG002
        msg = await self.inbox.get()
        if msg is None:
            raise WebSocketDisconnect(1000)
        return msg

    async def read_until(self, ws: WebSocket, predicate: Callable[[dict], bool]) -> dict:
        while True:
            msg = await self.next_message(ws)
            if predicate(msg):
                return msg

    async def drain(self, ws: WebSocket) -> None:
        """Record everything until the caller hangs up."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await self.next_message(ws)


def speech(msg: dict) -> bool:
    return msg.get("event") == "media" and base64.b64decode(msg["media"]["payload"]) != SILENCE


def bot_media(stream_sid: str, seconds: float, level: int = 0x20) -> list[str]:
    """Bot audio as 20 ms media messages (a constant non-silent mu-law code)."""
    frame = base64.b64encode(bytes([level]) * 160).decode()
    return [json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": frame}})
            for _ in range(round(seconds * 50))]


def mark(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def build_app(peer: Peer) -> FastAPI:
    app = FastAPI()

    async def checked_form(request: Request) -> dict | None:
        form = {k: str(v) for k, v in (await request.form()).items()}
        peer.webhooks.append((request.url.path, form, dict(request.headers)))
        if peer.auth_token:
            signature = request.headers.get("X-Twilio-Signature", "")
            if not RequestValidator(peer.auth_token).validate(peer.url + request.url.path, form, signature):
                return None
        return form

    @app.post("/twilio/voice")
    async def voice(request: Request) -> Response:
        if await checked_form(request) is None:
            return Response("bad signature", status_code=403)
        body = peer.voice_twiml(peer) if peer.voice_twiml else peer.default_twiml()
        return Response(body, media_type="application/xml")

    @app.post("/twilio/after-stream")
    async def after(request: Request) -> Response:
        if await checked_form(request) is None:
            return Response("bad signature", status_code=403)
        return Response(peer.after_twiml, media_type="application/xml")

    @app.websocket("/twilio/media")
    async def media(ws: WebSocket) -> None:
        peer.ws_headers = dict(ws.headers)
        await ws.accept()
        peer.inbox = asyncio.Queue()
        reader = asyncio.create_task(peer.reader(ws))
        with contextlib.suppress(WebSocketDisconnect):
            await peer.behaviour(ws, peer)
        if not reader.done():
            await asyncio.wait([reader], timeout=2)
            reader.cancel()

    return app


@pytest.fixture
def peer() -> Iterator[Peer]:
    port = free_port()
    p = Peer(url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(build_app(p), host="127.0.0.1", port=port, log_level="warning",
                                           ws_ping_interval=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "fake server did not start"
        time.sleep(0.02)
    yield p
    server.should_exit = True
    thread.join(timeout=5)


def write_tone(path: Path, seconds: float, rate: int = 16000, channels: int = 2, hz: float = 440.0) -> Path:
    """A loud sine WAV in an unusual format (16 kHz stereo) to exercise resampling and downmixing."""
    n = int(seconds * rate)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        samples = (int(12000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(n))
        w.writeframes(b"".join(struct.pack("<h", s) * channels for s in samples))
    return path


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    return write_tone(tmp_path / "tone.wav", 0.5)


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)

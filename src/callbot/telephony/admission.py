"""Admission: how many calls this process takes, the media socket's limits, and the shutdown drain.

A call the bot cannot take well (capacity reached, server stopping) is not refused: /twilio/voice
sends it straight to the human queue with a short message, or offers a callback out of hours
(routes.py). The media socket gets a per-message size limit, a message-rate limit and a per-IP
socket limit, each closing only the offending socket with a proper close code.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, WebSocket
from loguru import logger
from starlette.requests import HTTPConnection

from callbot.vocabulary import TransferReason

# Close codes (RFC 6455): the message was too big; the peer broke the rules (flood, limits).
MESSAGE_TOO_BIG = 1009
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
# An answered call whose media socket has not arrived yet still holds its place this long.
RESERVATION_SECS = 20.0
AFTER_STREAM_GRACE_SECS = 3.0

WrapUp = Callable[[str], Awaitable[None]]


@dataclass
class Admission:
    """The process's calls and sockets. Single event loop: no locks needed.

    Args:
        max_calls: simultaneous bot calls (CALLBOT_MAX_CALLS).
        max_sockets_per_ip: media sockets open at once from one address.
        max_message_bytes: the largest media-socket message accepted.
        max_messages_per_sec, burst: the media socket's sustained message rate, and its bursts.
    """

    max_calls: int
    max_sockets_per_ip: int
    max_message_bytes: int
    max_messages_per_sec: float
    burst: int
    draining: bool = False
    calls: dict[str, WrapUp | None] = field(default_factory=dict)
    reserved: dict[str, float] = field(default_factory=dict)
    sockets: dict[str, int] = field(default_factory=dict)

    # -- calls ------------------------------------------------------------------------------
    def refusal(self) -> str | None:
        """Why a new call cannot be taken by the bot now (None: it can)."""
        if self.draining:
            return "server stopping"
        now = time.monotonic()
        self.reserved = {sid: t for sid, t in self.reserved.items() if now - t < RESERVATION_SECS}
        if len(self.calls) + len(self.reserved) >= self.max_calls:
            return f"capacity reached ({self.max_calls} calls)"
        return None

    def reserve(self, call_sid: str) -> None:
        self.reserved[call_sid] = time.monotonic()

    def begin(self, call_sid: str) -> None:
        self.reserved.pop(call_sid, None)
        self.calls[call_sid] = None

    def on_wrap_up(self, call_sid: str, wrap_up: WrapUp) -> None:
        """How to end this call politely at once (shutdown deadline)."""
        if call_sid in self.calls:
            self.calls[call_sid] = wrap_up

    def end(self, call_sid: str) -> None:
        self.calls.pop(call_sid, None)
        self.reserved.pop(call_sid, None)

    async def drain(self, deadline_secs: float, transfer_grace_secs: float = 20.0) -> None:
        """Stop taking calls, let those in progress finish, then hand the rest to people."""
        self.draining = True
        had_calls = bool(self.calls)
        logger.warning("shutdown: no new bot calls; {} in progress, {} s to finish", len(self.calls),
                       deadline_secs)
        end = time.monotonic() + deadline_secs
        while self.calls and time.monotonic() < end:
            await asyncio.sleep(0.2)
        if self.calls:
            logger.warning("shutdown: transferring {} calls still in progress", len(self.calls))
            await asyncio.gather(*(w(TransferReason.OVERLOAD) for w in list(self.calls.values()) if w),
                                 return_exceptions=True)
            end = time.monotonic() + transfer_grace_secs
            while self.calls and time.monotonic() < end:
                await asyncio.sleep(0.2)
        if had_calls:
            # Twilio asks /twilio/after-stream once each stream is over: still be here to answer.
            await asyncio.sleep(AFTER_STREAM_GRACE_SECS)

    # -- sockets ----------------------------------------------------------------------------
    def open_socket(self, ip: str) -> bool:
        if self.sockets.get(ip, 0) >= self.max_sockets_per_ip:
            return False
        self.sockets[ip] = self.sockets.get(ip, 0) + 1
        return True

    def close_socket(self, ip: str) -> None:
        left = self.sockets.get(ip, 0) - 1
        if left > 0:
            self.sockets[ip] = left
        else:
            self.sockets.pop(ip, None)

    def guard(self, ws: WebSocket, call: str = "?") -> None:
        """Enforce size and rate on everything this socket receives from now on.

        Oversized messages close the socket with 1009, floods with 1008; the pipeline then sees
        an ordinary disconnect, so the call ends and is recorded like any other.
        """
        receive = ws.receive
        tokens = float(self.burst)
        last = time.monotonic()

        async def limited() -> Any:  # noqa: ANN401 (an ASGI message)
            nonlocal tokens, last
            message = await receive()
            if message.get("type") != "websocket.receive":
                return message
            size = len(message.get("bytes") or b"") + len(message.get("text") or "")
            now = time.monotonic()
            tokens = min(float(self.burst), tokens + (now - last) * self.max_messages_per_sec)
            last = now
            tokens -= 1
            reason = None
            if size > self.max_message_bytes:
                code, reason = MESSAGE_TOO_BIG, f"message of {size} bytes (limit {self.max_message_bytes})"
            elif tokens < 0:
                code, reason = POLICY_VIOLATION, f"more than {self.max_messages_per_sec:g} messages/s"
            if reason is None:
                return message
            logger.warning("media socket of call {} closed: {}", call, reason)
            with contextlib.suppress(RuntimeError):  # already closing
                await ws.close(code=code, reason=reason[:120])
            return {"type": "websocket.disconnect", "code": code}

        ws.receive = limited  # type: ignore[method-assign]


def get_admission(conn: HTTPConnection) -> Admission:
    return conn.app.state.admission


AdmissionDep = Annotated[Admission, Depends(get_admission)]


def client_ip(ws: WebSocket) -> str:
    return ws.client.host if ws.client else "?"


def install_sigterm_drain(admission: Admission, drain_secs: float) -> Callable[[], None] | None:
    """SIGTERM: stop taking bot calls, let calls finish up to `drain_secs`, transfer the rest, then
    let the server stop as it would have (uvicorn's own handler). A second SIGTERM stops at once.

    Only in the main thread (signals); returns the function that restores the previous handler.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)

    tasks: set[asyncio.Task] = set()

    def stop_now(sig: int) -> None:
        if callable(previous):
            previous(sig, None)
        else:
            signal.signal(sig, previous)
            signal.raise_signal(sig)

    async def drain_then_stop(sig: int) -> None:
        try:
            await admission.drain(drain_secs)
        finally:
            stop_now(sig)

    def on_sigterm(sig: int, _frame: object) -> None:
        if admission.draining:
            stop_now(sig)
            return
        admission.draining = True

        def start() -> None:
            task = loop.create_task(drain_then_stop(sig))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        loop.call_soon_threadsafe(start)

    signal.signal(signal.SIGTERM, on_sigterm)
    return lambda: signal.signal(signal.SIGTERM, previous)

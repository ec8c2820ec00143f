"""Live events between server processes: "something changed, look again".

State always lives in the database; an event only tells the web pages to re-read it, so a lost
event costs a late refresh, never data. Three transports, chosen by ``Settings.events_url``:

- ``memory``: in-process only (one server process, tests);
- ``postgres`` (or a ``postgresql://`` URL): LISTEN/NOTIFY on the database of
  ``Settings.database_url`` (or the URL given), with psycopg's async connection;
- ``redis://…``: Redis pub/sub with ``redis.asyncio``.

API: ``await bus.publish(kind, data)``, ``bus.subscribe()`` (an async iterator of
``{"kind": …, "data": …}``, registered as soon as it is created), ``await bus.close()``, and
``await bus.start()`` (the app calls it at start-up; the cross-process listeners begin there).
Publishing never raises: a broken transport is logged and retried, the caller's work goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from loguru import logger

from callbot.config import Settings

CHANNEL = "callbot_events"
SUBSCRIBER_BUFFER = 256
RECONNECT_DELAYS_SECS = (0.5, 1, 2, 5, 10)
# Sent to local subscribers after a cross-process listener reconnects: events may have been
# missed while it was down, so every page should re-read the database.
RECONNECTED = "bus.reconnected"

_CLOSED = object()


class Subscription:
    """One subscriber's queue of events. Registered at creation, so nothing published after
    `subscribe()` returns is missed, even before the first `await anext(...)`."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=SUBSCRIBER_BUFFER)
        self._closed = False
        bus._subscribers.add(self)

    def _offer(self, event: Any) -> None:  # noqa: ANN401
        if self._queue.full():
            # A slow page: drop the oldest; events are only "look again" hints.
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait(event)

    def deliver(self, event: Any) -> None:  # noqa: ANN401
        """Thread-safe: publishers in another thread or loop hand the event to our loop."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._offer(event)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._offer, event)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._closed:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is _CLOSED:
            await self.aclose()
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        self._closed = True
        self._bus._subscribers.discard(self)


class EventBus:
    """Fan-out to this process's subscribers; subclasses add a cross-process transport."""

    name = "memory"

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._closing = False

    async def start(self) -> None:
        """Begin listening to other processes (nothing to do in memory)."""

    def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        return Subscription(self)

    async def publish(self, kind: str, data: dict[str, Any]) -> None:
        self._fan_out({"kind": kind, "data": data})

    def _fan_out(self, event: dict[str, Any] | object) -> None:
        for sub in list(self._subscribers):
            sub.deliver(event)

    async def close(self) -> None:
        self._closing = True
        self._fan_out(_CLOSED)
        self._subscribers.clear()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


def _encode(kind: str, data: dict[str, Any]) -> str:
    return json.dumps({"kind": kind, "data": data}, ensure_ascii=False, default=str)


def _decode(payload: str | bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(payload)
    except (ValueError, TypeError):
        logger.warning("ignored a malformed live event: {!r}", payload[:200])
        return None
    if not isinstance(event, dict) or not isinstance(event.get("kind"), str):
        logger.warning("ignored a live event without a kind: {!r}", payload[:200])
        return None
    if not isinstance(event.get("data"), dict):
        event["data"] = {}
    return event


class _ListeningBus(EventBus):
    """Common reconnect loop for transports that listen on a channel in a background task."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address  # libpq conninfo or redis:// URL
        self._listener: asyncio.Task | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen_forever(), name=f"{self.name}-bus-listener")

    async def _listen_forever(self) -> None:
        attempt = 0
        first = True
        while not self._closing:
            try:
                async for payload in self._listen():
                    if payload is None:  # the listener is (re)connected
                        self.connected.set()
                        if not first:
                            logger.info("{} event bus reconnected", self.name)
                            self._fan_out({"kind": RECONNECTED, "data": {}})
                        first = False
                        attempt = 0
                        continue
                    event = _decode(payload)
                    if event is not None:
                        self._fan_out(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any transport failure: retry, never crash
                if self._closing:
                    break
                self.connected.clear()
                delay = RECONNECT_DELAYS_SECS[min(attempt, len(RECONNECT_DELAYS_SECS) - 1)]
                attempt += 1
                logger.warning("{} event bus listener lost ({}); retrying in {} s", self.name, exc, delay)
                await asyncio.sleep(delay)

    async def _listen(self) -> AsyncIterator[str | bytes | None]:
        raise NotImplementedError
        yield  # pragma: no cover

    async def publish(self, kind: str, data: dict[str, Any]) -> None:
        payload = _encode(kind, data)
        for attempt in range(2):
            try:
                await self._send(payload)
                return
            except Exception as exc:  # noqa: BLE001
                await self._reset_sender()
                if attempt:
                    # The database keeps the state; pages catch up on their next refresh.
                    logger.error("could not publish live event {} on the {} bus: {}", kind, self.name, exc)

    async def _send(self, payload: str) -> None:
        raise NotImplementedError

    async def _reset_sender(self) -> None:
        pass

    async def close(self) -> None:
        await super().close()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        await self._reset_sender()


def postgres_conninfo(url: str) -> str:
    """A libpq URL from an SQLAlchemy one (drops the ``+psycopg`` driver suffix)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"events_url 'postgres' needs a PostgreSQL database_url, not {parsed.drivername}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresBus(_ListeningBus):
    name = "postgres"

    _sender = None

    def __init__(self, conninfo: str) -> None:
        super().__init__(conninfo)
        self._send_lock = asyncio.Lock()

    async def _listen(self) -> AsyncIterator[str | None]:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(self.address, autocommit=True)
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
            yield None
            async for notify in conn.notifies():
                yield notify.payload
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _send(self, payload: str) -> None:
        import psycopg

        async with self._send_lock:
            if self._sender is None or self._sender.closed:
                self._sender = await psycopg.AsyncConnection.connect(self.address, autocommit=True)
            await self._sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    async def _reset_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(Exception):
                await sender.close()


class RedisBus(_ListeningBus):
    name = "redis"

    _client = None

    def _redis(self):  # noqa: ANN202
        if self._client is None:
            import redis.asyncio as redis

            self._client = redis.from_url(self.address)
        return self._client

    async def _listen(self) -> AsyncIterator[bytes | None]:
        import redis.asyncio as redis

        client = redis.from_url(self.address)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            yield None
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield message["data"]
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _send(self, payload: str) -> None:
        await self._redis().publish(CHANNEL, payload)

    async def _reset_sender(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()


def create_bus(settings: Settings) -> EventBus:
    """The bus named by ``settings.events_url`` ("memory", "postgres", "postgresql://…", "redis://…")."""
    url = (settings.events_url or "memory").strip()
    if url == "memory":
        return EventBus()
    if url in ("postgres", "postgresql"):
        return PostgresBus(postgres_conninfo(settings.database_url))
    if url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        return PostgresBus(postgres_conninfo(url.replace("postgres://", "postgresql://", 1)))
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBus(url)
    raise ValueError(f"CALLBOT_EVENTS_URL must be 'memory', 'postgres' or a redis:// URL, not {url!r}")

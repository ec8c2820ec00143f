"""What any route of the running app may ask for: settings, runtime, database, event bus.

Typed FastAPI dependencies over `HTTPConnection`, so webhooks, pages and websockets alike name
what they use in their signature instead of reading `app.state` (app.py fills it at start-up).
web/deps.py adds the console's user and role checks on top.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from callbot.config import Settings
from callbot.runtime import Runtime
from callbot.store.bus import EventBus
from callbot.store.db import Database


def get_settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


def get_runtime(conn: HTTPConnection) -> Runtime:
    return conn.app.state.runtime


def get_db(conn: HTTPConnection) -> Database:
    return conn.app.state.db


def get_bus(conn: HTTPConnection) -> EventBus:
    return conn.app.state.bus


SettingsDep = Annotated[Settings, Depends(get_settings)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
DatabaseDep = Annotated[Database, Depends(get_db)]
BusDep = Annotated[EventBus, Depends(get_bus)]

"""Logging set-up, once per process (pipecat logs through loguru, DEBUG by default).

Log lines carry call ids, reasons, lengths and timings, never a caller's words or number: the
call sites log lengths, not text, and this set-up adds two nets: tracebacks without variable
values (loguru's `diagnose` would print the transcript a failing function held), and any run of
six digits or more, or e-mail address, masked in every message.
"""

from __future__ import annotations

import logging
import re
import sys
from copy import deepcopy
from typing import Any, TextIO
from urllib.parse import unquote_plus

from loguru import logger

FORMAT = "{time:HH:mm:ss.SSS} {level: <7} {name}: {message}"
# Six digits or more, with the spaces / dots / dashes people write numbers with; CallSids and
# StreamSids (CA…/MZ… + 32 hex) and durations stay readable.
DIGIT_RUN = re.compile(r"(?<![\w])\+?\d(?:[ .\-]?\d){5,}(?![\w])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def mask_personal_data(message: str) -> str:
    """Numbers of six digits or more and e-mail addresses replaced by a placeholder."""
    return EMAIL.sub("[e-mail]", DIGIT_RUN.sub("[numéro]", message))


def _patch(record: dict[str, Any]) -> None:
    record["message"] = mask_personal_data(record["message"])


def configure_logging(level: str = "INFO", sink: TextIO | Any = sys.stderr) -> None:  # noqa: ANN401
    logger.remove()
    logger.configure(patcher=_patch)
    logger.add(sink, level=level.upper(), format=FORMAT, backtrace=False, diagnose=False)


class AccessLogMasking(logging.Filter):
    """uvicorn's access log writes each request line: a console search by number
    (`/agents/rappels?numero=06…`) must not leave the number in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, sep, query = args[2].partition("?")
            record.args = (*args[:2], path + sep + mask_personal_data(unquote_plus(query)), *args[3:])
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with the access log's query strings masked."""
    from uvicorn.config import LOGGING_CONFIG

    config = deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["mask"] = {"()": AccessLogMasking}
    config["handlers"]["access"]["filters"] = ["mask"]
    return config

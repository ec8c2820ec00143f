"""Per-call tokens: the webhook signs the CallSid, the media socket checks it.

Twilio does not sign the websocket's `start` message, so without this anyone could open a media
socket and impersonate a call. The token travels as a <Parameter> of <Stream>.
"""

from __future__ import annotations

import hashlib
import hmac
import time


class TokenError(ValueError):
    pass


def make_call_token(secret: bytes, call_sid: str, ttl_secs: int, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + ttl_secs)
    mac = hmac.new(secret, f"{call_sid}.{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def check_call_token(secret: bytes, call_sid: str, token: str | None, now: float | None = None) -> None:
    """Raise TokenError unless `token` was made for `call_sid` with this secret and is unexpired."""
    if not token or "." not in token:
        raise TokenError("missing or malformed call token")
    expires_s, mac = token.split(".", 1)
    if not expires_s.isdigit():
        raise TokenError("malformed call token")
    expected = hmac.new(secret, f"{call_sid}.{expires_s}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac):
        raise TokenError("call token signature mismatch")
    if int(expires_s) < (now if now is not None else time.time()):
        raise TokenError("call token expired")

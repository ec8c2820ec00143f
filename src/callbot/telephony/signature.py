"""X-Twilio-Signature verification for every Twilio webhook (when an auth token is configured)."""

from __future__ import annotations

from fastapi import HTTPException, Request
from loguru import logger
from twilio.request_validator import RequestValidator

from callbot.app_deps import SettingsDep


def public_url_for(request: Request, public_base: str) -> str:
    """The URL Twilio signed: our public base + the path and query it requested."""
    url = public_base.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url


async def verify_twilio_signature(request: Request, settings: SettingsDep) -> None:
    """FastAPI dependency: 403 unless the request carries Twilio's signature for our public URL."""
    token = settings.twilio_auth_token
    if not token:
        return
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    url = public_url_for(request, settings.public_url)
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token).validate(url, params, signature):
        logger.warning("rejected Twilio webhook with a bad signature: {}", request.url.path)
        raise HTTPException(status_code=403, detail="invalid Twilio signature")

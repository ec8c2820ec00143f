"""X-Twilio-Signature verification for every Twilio webhook.

Without CALLBOT_TWILIO_AUTH_TOKEN the Twilio routes refuse everything (403), unless
CALLBOT_ALLOW_UNSIGNED=1 (tests, `callbot simulate` against a local server), which the server
announces loudly at start-up (`unsigned_warning`).
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from loguru import logger
from twilio.request_validator import RequestValidator

from callbot.app_deps import SettingsDep
from callbot.config import Settings

UNSIGNED_WARNING = ("CALLBOT_ALLOW_UNSIGNED=1: Twilio webhooks are accepted WITHOUT a signature; "
                    "anyone reaching this server can place fake calls. Never expose it publicly.")
NO_TOKEN_WARNING = ("CALLBOT_TWILIO_AUTH_TOKEN is not set: every Twilio webhook will be refused (403). "
                    "Set it (or CALLBOT_ALLOW_UNSIGNED=1 for a local test server).")


def unsigned_warning(settings: Settings) -> str | None:
    """What the server says at start-up about webhook signatures (None when they are checked)."""
    if settings.twilio_auth_token:
        return None
    return UNSIGNED_WARNING if settings.allow_unsigned else NO_TOKEN_WARNING


def public_url_for(request: Request, public_base: str) -> str:
    """The URL Twilio signed: our public base + the path and query it requested (behind a TLS
    proxy the request reaches us as http://127.0.0.1…, but Twilio signed the https public URL)."""
    url = public_base.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url


async def verify_twilio_signature(request: Request, settings: SettingsDep) -> None:
    """FastAPI dependency: 403 unless the request carries Twilio's signature for our public URL."""
    token = settings.twilio_auth_token
    if not token:
        if settings.allow_unsigned:
            return
        logger.warning("refused Twilio webhook {}: no CALLBOT_TWILIO_AUTH_TOKEN configured", request.url.path)
        raise HTTPException(status_code=403, detail="Twilio webhooks need CALLBOT_TWILIO_AUTH_TOKEN")
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    url = public_url_for(request, settings.public_url)
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token).validate(url, params, signature):
        logger.warning("rejected Twilio webhook with a bad signature: {}", request.url.path)
        raise HTTPException(status_code=403, detail="invalid Twilio signature")


def announce_webhook_security(settings: Settings) -> None:
    """Log, at start-up, how Twilio webhooks are checked: loudly when they are not."""
    message = unsigned_warning(settings)
    if message is None:
        logger.info("Twilio webhooks: signatures checked against {}", settings.public_url)
        return
    rule = "!" * 96
    for line in (rule, message, rule):
        logger.warning("!! {}", line)

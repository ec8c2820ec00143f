"""Security headers on every HTTP answer (console, dashboard, static files, Twilio webhooks).

A pure ASGI middleware (not ``BaseHTTPMiddleware``): the console's Server-Sent Events stream
through it untouched. The pages carry no inline script or style (htmx is told not to inject its
indicator style, see base.html), so the Content-Security-Policy needs neither nonce nor
'unsafe-inline'. HSTS only when the public address is https: sent over plain http it would lock
a local test server out of the browser. Every answer but a static file is ``no-store``: after
logout, the browser's back button must not show a transcript from its cache.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HSTS = "max-age=31536000; includeSubDomains"
NO_STORE = (b"cache-control", b"no-store")


def security_headers(https: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "Content-Security-Policy": CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


class SecurityHeaders:
    """Adds the headers above to every HTTP response that does not already set them."""

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.headers = security_headers(public_url.startswith("https://"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        cacheable = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                if not cacheable and NO_STORE[0] not in present:
                    extra.append(NO_STORE)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

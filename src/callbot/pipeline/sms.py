"""Sending the links a caller agreed to receive by SMS, through Twilio's Messages API.

Off by default: a sender exists only when the account, the credentials (an API key and its
secret, or the auth token) and the sending number are all configured. The caller's number is
passed through to Twilio and nowhere else: it is not stored, and failures are logged without it
and without the message text.
"""

from __future__ import annotations

import asyncio

from loguru import logger
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from callbot.config import Settings

SEND_TIMEOUT_SECS = 10.0


class SmsSender:
    """Sends one text message per call of `send`, never raising.

    Args:
        account_sid: the Twilio account the messages are billed to.
        username, password: an API key and its secret, or the account SID and its auth token.
        sender: the number (or alphanumeric sender id) the message comes from.
        api_url: another base URL for Twilio's REST API (a local fake in tests).
    """

    def __init__(self, account_sid: str, username: str, password: str, sender: str, *,
                 api_url: str | None = None, timeout: float = SEND_TIMEOUT_SECS) -> None:
        self._account_sid = account_sid
        self._auth = (username, password)
        self.sender = sender
        self._api_url = api_url
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsSender | None:
        """The configured sender, or None when SMS is not (fully) configured."""
        sid, sender = settings.twilio_account_sid, settings.sms_from
        if settings.twilio_api_key and settings.twilio_api_secret:
            username, password = settings.twilio_api_key, settings.twilio_api_secret
        else:
            username, password = sid, settings.twilio_auth_token
        if not (sid and sender and username and password):
            return None
        return cls(sid, username, password, sender)

    def send(self, to: str, text: str) -> bool:
        """Blocking: send `text` to `to`. True when Twilio accepted the message."""
        # A client per message: the library keeps its last request (with the number) in memory.
        http = TwilioHttpClient(timeout=self._timeout, pool_connections=False)
        client = Client(self._auth[0], self._auth[1], account_sid=self._account_sid, http_client=http)
        if self._api_url:
            client.api.base_url = self._api_url
        try:
            message = client.messages.create(to=to, from_=self.sender, body=text)
        except TwilioRestException as e:
            logger.warning("SMS not sent: Twilio answered {} (code {})", e.status, e.code)
            return False
        except Exception as e:  # network down, timeout, a malformed answer: the call goes on
            logger.warning("SMS not sent: {}", type(e).__name__)
            return False
        logger.info("SMS sent ({})", message.sid)
        return True

    async def send_async(self, to: str, text: str) -> bool:
        """`send` off the event loop: the call's audio never waits for Twilio."""
        return await asyncio.to_thread(self.send, to, text)

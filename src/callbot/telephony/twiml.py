"""TwiML documents the server returns to Twilio. Built with Twilio's own library, never by hand."""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, Dial, Enqueue, VoiceResponse

LANGUAGE = "fr-FR"


def absolute(public_url: str, path: str) -> str:
    return public_url.rstrip("/") + path


def stream_url(public_url: str) -> str:
    """wss:// for an https public URL (what Twilio requires), ws:// for local http tests."""
    base = public_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return base + "/twilio/media"


def connect_stream(public_url: str, parameters: dict[str, str]) -> str:
    """Answer: open a bidirectional media stream; when it ends Twilio asks /twilio/after-stream."""
    response = VoiceResponse()
    connect = Connect(action=absolute(public_url, "/twilio/after-stream"), method="POST")
    stream = connect.stream(url=stream_url(public_url))
    for name, value in parameters.items():
        if value is not None:
            stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def enqueue(public_url: str, queue: str) -> str:
    response = VoiceResponse()
    response.append(Enqueue(
        queue,
        action=absolute(public_url, "/twilio/queue-result"),
        method="POST",
        wait_url=absolute(public_url, "/twilio/queue-wait"),
        wait_url_method="POST",
    ))
    return str(response)


def dial(number: str, timeout_secs: int = 30) -> str:
    response = VoiceResponse()
    response.append(Dial(number, timeout=timeout_secs))
    return str(response)


def hangup(say: str | None = None) -> str:
    response = VoiceResponse()
    if say:
        response.say(say, language=LANGUAGE)
    response.hangup()
    return str(response)

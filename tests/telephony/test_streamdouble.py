"""An independent Twilio Media Streams simulator (streamdouble, written by others) against the
live server: zero protocol violations, every mark echoed, the bot speaks."""

from __future__ import annotations

import asyncio
import wave

import httpx
import pytest
from streamdouble.audio import wav_to_ulaw_frames
from streamdouble.metrics import compute
from streamdouble.protocol import StreamIdentity
from streamdouble.session import SessionConfig, run_call

pytestmark = pytest.mark.e2e
CALLER = "+33666666666"


def test_streamdouble_finds_no_protocol_violation(live_server, tmp_path) -> None:
    voice = live_server.app.state.runtime.voice
    pcm, rate = voice.synthesize_pcm("bonjour je voudrais connaître les horaires de la mairie")
    wav = tmp_path / "caller.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)

    identity = StreamIdentity()
    r = httpx.post(f"{live_server.url}/twilio/voice",
                   data={"CallSid": identity.call_sid, "From": CALLER, "To": "+33100000000"})
    token = r.text.split('name="token" value="')[1].split('"')[0]
    config = SessionConfig(custom_parameters={"caller": CALLER, "token": token},
                           response_timeout_s=20, quiet_period_s=2.0, max_drain_s=25)
    url = live_server.url.replace("http://", "ws://") + "/twilio/media"
    result = asyncio.run(run_call(url, wav_to_ulaw_frames(wav), config=config, identity=identity))
    metrics = compute(result)

    assert result.violations == []
    assert result.unknown_events == []
    assert metrics.time_to_first_audio_ms is not None  # the greeting was heard
    assert result.media_frames_received > 50
    assert result.marks_received  # the server tags its replies
    assert sorted(result.marks_echoed) == sorted(result.marks_received)

"""Pure parts of the simulator: TwiML reading, playout arithmetic, frame encoding, caller audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbot.devtools.simulator.audio import FRAME_BYTES, frames_of, ulaw_to_pcm16, wav_to_ulaw
from callbot.devtools.simulator.playout import Playout
from callbot.devtools.simulator.protocol import StreamEncoder
from callbot.devtools.simulator.twiml import (
    StreamInstruction,
    TwimlError,
    parse_final_verb,
    parse_webhook_answer,
    rewrite_host,
)
from tests.devtools.conftest import write_tone


def test_connect_stream_twiml_is_read_like_twilio() -> None:
    twiml = ('<?xml version="1.0"?><Response><Connect action="https://m.fr/twilio/after-stream">'
             '<Stream url="wss://m.fr/twilio/media"><Parameter name="caller" value="+33611"/>'
             '<Parameter name="token" value="1.ab"/></Stream></Connect><Say>jamais dit</Say></Response>')
    answer = parse_webhook_answer(twiml)
    assert isinstance(answer, StreamInstruction)
    assert answer.url == "wss://m.fr/twilio/media" and answer.action == "https://m.fr/twilio/after-stream"
    assert answer.parameters == {"caller": "+33611", "token": "1.ab"} and answer.problems == []
    assert answer.after.verb == "hangup" and answer.after.said == ["jamais dit"]
    bad = parse_webhook_answer('<Response><Connect><Stream url="wss://m.fr/media?x=1"/></Connect></Response>')
    assert bad.problems and bad.problems[0].startswith("stream_url_query")


@pytest.mark.parametrize("twiml, verb, target", [
    ("<Response><Enqueue waitUrl='/w'>accueil</Enqueue></Response>", "enqueue", "accueil"),
    ("<Response><Dial timeout='30'>+33100000001</Dial></Response>", "dial", "+33100000001"),
    ("<Response><Dial><Number>+33100000002</Number></Dial></Response>", "dial", "+33100000002"),
    ("<Response><Say language='fr-FR'>Au revoir</Say><Hangup/></Response>", "hangup", None),
    ("<Response/>", "hangup", None),
    ("<Response><Redirect>/ailleurs</Redirect></Response>", None, "Redirect"),
])
def test_final_verbs(twiml: str, verb: str | None, target: str | None) -> None:
    final = parse_final_verb(twiml)
    assert (final.verb, final.target) == (verb, target) and final.twiml == twiml


def test_unusable_final_twiml_is_refused() -> None:
    for twiml in ("<Response><Enqueue/></Response>", "<Response><Dial></Dial></Response>", "<Respon"):
        with pytest.raises(TwimlError):
            parse_final_verb(twiml)


def test_rewrite_host() -> None:
    assert rewrite_host("wss://mairie.fr/twilio/media", "http://127.0.0.1:8000") == \
        "ws://127.0.0.1:8000/twilio/media"
    assert rewrite_host("https://mairie.fr/twilio/after-stream", "https://local:8443") == \
        "https://local:8443/twilio/after-stream"


def test_playout_echoes_marks_when_playback_reaches_them() -> None:
    p = Playout()
    p.add_media(b"\x10" * 8000, now=10.0)  # 1 s of audio
    p.add_mark("a", now=10.1)
    p.add_media(b"\x10" * 4000, now=10.2)  # queued behind: plays 11.0 → 11.5
    p.add_mark("b", now=10.3)
    assert p.due_marks(10.99) == []
    assert p.due_marks(11.0) == ["a"]
    assert p.playing(11.4) and p.due_marks(11.4) == []
    assert p.due_marks(11.5) == ["b"] and not p.playing(11.5)
    p.add_mark("now", now=12.0)  # nothing queued: due at once
    assert p.due_marks(12.0) == ["now"]
    assert len(p.played_audio()) == 12000


def test_clear_drops_unplayed_audio_and_releases_every_pending_mark() -> None:
    p = Playout()
    p.add_media(b"\x10" * 8000, now=0.0)
    p.add_mark("first", now=0.0)
    p.add_media(b"\x10" * 8000, now=0.0)
    p.add_mark("second", now=0.0)
    assert p.clear(now=0.25) == ["first", "second"]
    assert len(p.played_audio()) == 2000 and p.dropped_bytes == 14000
    assert not p.playing(0.25) and p.due_marks(5.0) == []
    p.add_media(b"\x10" * 800, now=0.3)  # new audio plays at once, not after the dropped part
    assert p.playing(0.35) and not p.playing(0.41)


def test_encoder_counters_are_strings_and_follow_the_protocol() -> None:
    e = StreamEncoder(call_sid="CA" + "1" * 32)
    assert "sequenceNumber" not in e.connected() and "streamSid" not in e.connected()
    assert e.start({})["sequenceNumber"] == "1"
    m1, d, m2 = e.media(b"\xff" * 160, 52), e.dtmf("5"), e.media(b"\xff" * 160, 72)
    assert (m1["sequenceNumber"], d["sequenceNumber"], m2["sequenceNumber"]) == ("2", "3", "4")
    assert (m1["media"]["chunk"], m2["media"]["chunk"]) == ("1", "2")
    assert (m1["media"]["timestamp"], m2["media"]["timestamp"]) == ("52", "72")
    assert len(m1["media"]["payload"]) == 216
    assert e.stop()["stop"] == {"accountSid": e.account_sid, "callSid": e.call_sid}


def test_any_wav_becomes_8khz_mulaw_frames(tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "t.wav", 0.5, rate=44100, channels=2)
    ulaw = wav_to_ulaw(tone)
    assert len(ulaw) == pytest.approx(4000, abs=2)
    frames = frames_of(ulaw)
    assert len(frames) == 25 and all(len(f) == FRAME_BYTES for f in frames)
    pcm = ulaw_to_pcm16(ulaw)
    peak = max(abs(int.from_bytes(pcm[i:i + 2], "little", signed=True)) for i in range(0, len(pcm), 2))
    assert 10000 < peak < 14000  # the 12000-amplitude sine survived resampling and downmix
    assert frames_of(b"\x00" * 170)[1] == b"\x00" * 10 + b"\xff" * 150  # last frame padded with silence
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(ValueError, match="illisible"):
        wav_to_ulaw(bad)


def test_say_is_spoken_with_the_project_piper_voice() -> None:
    from callbot.devtools.simulator.call import Say, prepare_steps
    from callbot.speech.piper_tts import PiperVoiceEngine
    from tests.conftest import joe_voice

    voice = PiperVoiceEngine.load(joe_voice(), "fr")
    (item,) = prepare_steps([Say("Bonjour, quels sont les horaires de la mairie ?")], voice)
    seconds = len(item.frames) * 0.02
    assert 1.0 < seconds < 6.0
    audio = b"".join(item.frames)
    assert len(set(audio)) > 50  # speech, not silence

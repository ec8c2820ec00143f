"""The greeting over the media socket, real engines: short, and a caller who talks over the AI
disclosure is neither talked over afterwards nor kept waiting (issue 14)."""

from __future__ import annotations

import asyncio

import pytest

from callbot.devtools.simulator.call import place_call
from callbot.devtools.simulator.steps import Hangup, Say, Wait, WaitForBotAudio
from callbot.pipeline.playback import SEGMENT_PAUSE_SECS

pytestmark = pytest.mark.e2e

GREETING_MAX_MS = 7000
ANSWER_WITHIN_MS = 1000
# Long enough to go on after the disclosure: the invitation that follows it must not be said.
QUESTION = ("bonjour madame je voudrais savoir s'il vous plaît quels sont les horaires d'ouverture "
            "de la mairie cette semaine")


def test_speech_over_the_disclosure_is_answered_as_soon_as_both_are_over(live_server) -> None:
    runtime = live_server.app.state.runtime
    start = runtime.dialog.new_conversation().start().prompts
    disclosure = [p.text for p in start if not p.interruptible]
    greeting = [p.text for p in start]
    voice = runtime.voice
    seconds = [len(voice.synthesize_pcm(t)[0]) / 2 / voice.sample_rate for t in greeting]
    assert sum(seconds) * 1000 <= GREETING_MAX_MS, (greeting, seconds)  # hello, disclosure, invitation

    summary = asyncio.run(place_call(live_server.url, [
        # Then a fixed wait (not WaitForBot: the disclosure may still be playing when the caller stops).
        WaitForBotAudio(20), Wait(1.0), Say(QUESTION), Wait(ANSWER_WITHIN_MS / 1000 + 3), Hangup(),
    ], caller="+33677777777", voice=voice, listen_secs_after=0))
    assert summary.violations == []
    spans = summary.bot_audio_spans_ms
    speech_end = summary.turns[0].ended_at_ms
    fixed_ms = sum(seconds[:len(disclosure)]) * 1000
    disclosure_end = spans[0][0] + fixed_ms
    assert speech_end > disclosure_end  # the case where the invitation would talk over the caller
    # Nothing said after the disclosure while the caller was still talking (only the silent pause
    # queued behind its mark, pipeline/playback.py) …
    pause_ms = SEGMENT_PAUSE_SECS * 1000
    assert spans[0][1] <= disclosure_end + pause_ms + 300, spans
    answer_start = next((a for a, _ in spans if a > disclosure_end + pause_ms + 300), None)
    assert answer_start is not None, ("no answer", spans, speech_end)
    assert answer_start >= speech_end
    # … and the answer within a second of the end of their words.
    assert answer_start - max(speech_end, disclosure_end) <= ANSWER_WITHIN_MS, (spans, speech_end)

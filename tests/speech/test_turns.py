"""Hearing: Silero VAD + Smart Turn v3 + the Vosk service, on real audio paced in real time."""

from __future__ import annotations

from pipecat.frames.frames import (
    InterimTranscriptionFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy, TurnAnalyzerUserTurnStopStrategy

from callbot.config import Settings
from callbot.speech.turns import HearingSettings, build_hearing, build_stop_strategy
from callbot.speech.vosk_stt import VoskSTTService
from tests.speech.conftest import PHONE, audio_frames, run, silence


def paced(pcm: bytes) -> list:
    """Audio frames with a 20 ms real-time gap between them, as the media socket delivers them."""
    frames = []
    for f in audio_frames(pcm):
        frames += [f, SleepFrame(sleep=0.02)]
    return frames


def test_a_caller_sentence_makes_one_turn_with_its_transcript(vosk_model, voice) -> None:  # noqa: ANN001
    vad, turns, stop_secs = build_hearing(Settings())
    stt = VoskSTTService(vosk_model, transcripts=iter(["quels sont les horaires"]))
    speech = b"".join(voice.iter_pcm8k("Je voudrais connaître les horaires d'ouverture de la mairie."))
    frames = paced(silence(0.5) + speech + silence(1.5))
    down, _ = run(run_test(Pipeline([vad, turns, stt]), frames_to_send=frames, pipeline_params=PHONE))

    kinds = [type(f) for f in down if isinstance(f, (UserStartedSpeakingFrame, InterimTranscriptionFrame,
                                                      TranscriptionFrame, UserStoppedSpeakingFrame))]
    assert kinds[0] is UserStartedSpeakingFrame
    assert kinds.count(TranscriptionFrame) == 1
    assert UserStoppedSpeakingFrame in kinds
    assert InterimTranscriptionFrame in kinds
    assert [f.text for f in down if isinstance(f, TranscriptionFrame)] == ["quels sont les horaires"]
    assert stop_secs == HearingSettings().vad_stop_secs


def test_settings_override_named_thresholds_and_fallback_strategy() -> None:
    class Tuned(Settings):
        vad_stop_secs: float = 0.3

    h = HearingSettings.from_settings(Tuned())
    assert h.vad_stop_secs == 0.3 and h.vad_confidence == HearingSettings().vad_confidence
    assert isinstance(build_stop_strategy(h), TurnAnalyzerUserTurnStopStrategy)
    no_model = HearingSettings(use_smart_turn=False)
    assert isinstance(build_stop_strategy(no_model), SpeechTimeoutUserTurnStopStrategy)

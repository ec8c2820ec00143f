"""Vosk STT service: real recogniser (Korean test model) on real synthesised audio."""

from __future__ import annotations

import asyncio
import sys

import pytest
from pipecat.frames.frames import (
    InterimTranscriptionFrame,
    SystemFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from callbot.devtools.scripted_recognizer import load_transcript_script
from callbot.speech.errors import ModelMissingError
from callbot.speech.vosk_stt import VoskSTTService, load_vosk_model
from tests.conftest import vosk_ko_model
from tests.speech.conftest import PHONE, audio_frames, run, silence


def transcripts(frames) -> list[TranscriptionFrame]:  # noqa: ANN001
    return [f for f in frames if isinstance(f, TranscriptionFrame)]


def said(pcm: bytes, *, end: bool = True) -> list:
    """What the VAD and turn detector make of one caller utterance: a speech start after the
    first 0.2 s, the audio, then (if `end`) the end of the caller's turn."""
    head, rest = pcm[:3200], pcm[3200:]
    frames = audio_frames(head) + [VADUserStartedSpeakingFrame(start_secs=0.2)] + audio_frames(rest)
    if end:
        frames += [VADUserStoppedSpeakingFrame(stop_secs=0.2), UserStoppedSpeakingFrame()]
    return frames


def test_partials_stream_and_the_turn_end_forces_one_final(vosk_model, speech_8k) -> None:  # noqa: ANN001
    stt = VoskSTTService(vosk_model)
    # Two seconds of trailing silence: Vosk alone would endpoint, but no final may come out
    # before the turn ends.
    frames = said(speech_8k + silence(2.0))
    down, _ = run(run_test(stt, frames_to_send=frames, pipeline_params=PHONE))

    interims = [f for f in down if isinstance(f, InterimTranscriptionFrame)]
    finals = transcripts(down)
    assert interims, "partial results must stream while the caller talks"
    assert len(finals) == 1
    final = finals[0]
    assert final.finalized is True
    assert final.text  # the Korean model hears *something* in French speech
    # The final comes right before the turn-end frame, after every audio frame.
    kinds = [type(f) for f in down]
    assert kinds.index(TranscriptionFrame) == kinds.index(UserStoppedSpeakingFrame) - 1
    assert final.asr_ms > 0 and final.result["asr_ms"] == final.asr_ms
    assert final.result["scripted"] is False and final.result["heard"] == final.text


def test_no_final_without_the_turn_ending(vosk_model, speech_8k) -> None:  # noqa: ANN001
    stt = VoskSTTService(vosk_model)
    # At a caller's pace (100 ms of audio per 100 ms): the recogniser decodes while they talk,
    # and its partial results come out before anything ends the turn.
    frames = []
    for i, frame in enumerate(said(speech_8k + silence(2.0), end=False)):
        frames += [frame, SleepFrame(sleep=0.1)] if i % 5 == 4 else [frame]
    down, _ = run(run_test(stt, frames_to_send=frames, pipeline_params=PHONE))
    assert transcripts(down) == []
    assert any(isinstance(f, InterimTranscriptionFrame) for f in down)


def test_audio_outside_the_callers_turns_is_not_decoded(vosk_model, speech_8k) -> None:  # noqa: ANN001
    # E.g. the line while the bot speaks: no VAD speech start, so no CPU spent and no words.
    stt = VoskSTTService(vosk_model)
    frames = audio_frames(speech_8k) + [UserStoppedSpeakingFrame()]
    down, _ = run(run_test(stt, frames_to_send=frames, pipeline_params=PHONE))
    assert not any(isinstance(f, (InterimTranscriptionFrame, TranscriptionFrame)) for f in down)


def test_scripted_transcripts_replace_the_text_turn_by_turn(vosk_model, speech_8k) -> None:  # noqa: ANN001
    stt = VoskSTTService(vosk_model, transcripts=iter(["quels sont les horaires", "oui merci"]))
    frames = said(speech_8k) + said(speech_8k[: len(speech_8k) // 2])
    down, _ = run(run_test(stt, frames_to_send=frames, pipeline_params=PHONE))
    finals = transcripts(down)
    assert [f.text for f in finals] == ["quels sont les horaires", "oui merci"]
    assert all(f.result["scripted"] and f.result["heard"] != f.text for f in finals)
    assert all(f.asr_ms > 0 for f in finals)  # the real recogniser really ran


def test_silence_then_turn_end_gives_no_transcript(vosk_model) -> None:  # noqa: ANN001
    stt = VoskSTTService(vosk_model)
    down, _ = run(run_test(stt, frames_to_send=said(silence(1.0)), pipeline_params=PHONE))
    assert transcripts(down) == []


def test_vad_mode_finalises_on_the_raw_vad_stop(vosk_model, speech_8k) -> None:  # noqa: ANN001
    stt = VoskSTTService(vosk_model, finalize_on="vad")
    frames = said(speech_8k, end=False) + [VADUserStoppedSpeakingFrame(stop_secs=0.2)]
    down, _ = run(run_test(stt, frames_to_send=frames, pipeline_params=PHONE))
    assert len(transcripts(down)) == 1


def test_expectation_constrains_the_next_turn_to_a_grammar(vosk_model, speech_8k) -> None:  # noqa: ANN001
    # Korean words the test model knows stand in for "oui"/"non": the grammar must confine
    # whatever is heard to them (this is what makes yes/no and digits reliable in French).
    words = ["하지만", "일"]
    stt = VoskSTTService(vosk_model)
    stt.set_expectation("yes_no", words)
    down, _ = run(run_test(stt, frames_to_send=said(speech_8k), pipeline_params=PHONE))
    final = transcripts(down)[0]
    assert final.result["grammar"] is True and final.result["expectation"] == "yes_no"
    assert final.text and set(final.text.split()) <= set(words)


class AnswerHeard(SystemFrame):
    """Marks where the test caller waits for the bot to have heard the previous turn."""


def test_expectation_set_by_the_dialog_applies_to_the_next_turn(vosk_model, speech_8k) -> None:  # noqa: ANN001
    stt = VoskSTTService(vosk_model)
    heard = asyncio.Event()

    class Caller(FrameProcessor):
        """Holds the rest of the call at the marker until the dialog has its transcript."""

        async def process_frame(self, frame, direction):  # noqa: ANN001, ANN201
            await super().process_frame(frame, direction)
            if isinstance(frame, AnswerHeard):
                await asyncio.wait_for(heard.wait(), timeout=30)
                return
            await self.push_frame(frame, direction)

    class Dialog(FrameProcessor):
        """Like the dialog: after the first answer it asks a yes/no question."""

        async def process_frame(self, frame, direction):  # noqa: ANN001, ANN201
            await super().process_frame(frame, direction)
            if isinstance(frame, TranscriptionFrame):
                stt.set_expectation("yes_no", ["하지만", "일"])
                heard.set()
            await self.push_frame(frame, direction)

    half = speech_8k[: len(speech_8k) // 2]
    frames = said(half) + [AnswerHeard()] + audio_frames(silence(0.5)) + said(half)
    down, _ = run(run_test(Pipeline([Caller(), stt, Dialog()]), frames_to_send=frames, pipeline_params=PHONE))
    first, second = transcripts(down)
    assert (first.result["grammar"], second.result["grammar"]) == (False, True)
    assert set(second.text.split()) <= {"하지만", "일"}


def test_missing_model_names_the_path_and_the_command(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ModelMissingError) as missing:
        load_vosk_model(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(missing.value)
    assert "callbot models download" in str(missing.value)

    partial = tmp_path / "partial"
    (partial / "am").mkdir(parents=True)
    (partial / "am" / "final.mdl").write_bytes(b"x")
    with pytest.raises(ModelMissingError, match="conf/model.conf"):
        load_vosk_model(partial)


def test_model_is_loaded_once_per_process(vosk_model) -> None:  # noqa: ANN001
    assert load_vosk_model(vosk_ko_model()) is vosk_model


def test_transcript_script_file(tmp_path) -> None:  # noqa: ANN001
    good = tmp_path / "script.json"
    good.write_text('{"+33611111111": ["bonjour", "au revoir"]}', encoding="utf-8")
    assert load_transcript_script(good) == {"+33611111111": ["bonjour", "au revoir"]}
    bad = tmp_path / "bad.json"
    bad.write_text('{"+33611111111": "bonjour"}', encoding="utf-8")
    with pytest.raises(ValueError, match="lists of strings"):
        load_transcript_script(bad)
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_transcript_script(bad)


def test_a_recogniser_failure_loses_one_turn_not_the_call(vosk_model, speech_8k,  # noqa: ANN001
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import vosk

    real_final = vosk.KaldiRecognizer.FinalResult
    failures = iter([True])

    def flaky_final(self):  # noqa: ANN001, ANN202
        # Only the turn's own forced final fails: a recogniser that an earlier test's call is still
        # giving back to the pool (in its Vosk thread) calls FinalResult too.
        if sys._getframe(1).f_code.co_name == "_final" and next(failures, False):
            raise RuntimeError("simulated Kaldi failure")
        return real_final(self)

    monkeypatch.setattr(vosk.KaldiRecognizer, "FinalResult", flaky_final)
    stt = VoskSTTService(vosk_model, transcripts=iter(["premier", "second"]))
    half = speech_8k[: len(speech_8k) // 2]
    down, _ = run(run_test(stt, frames_to_send=said(half) + said(half), pipeline_params=PHONE))
    # The failed turn is lost (no transcript); the next turn is heard normally.
    assert [f.text for f in transcripts(down)] == ["premier"]


def test_a_caller_who_pauses_and_goes_on_gets_one_transcript_for_the_whole_turn(
        vosk_model, speech_8k) -> None:  # noqa: ANN001
    # The final starts at each VAD stop (in parallel with the turn model); a pause that the turn
    # model judges mid-sentence must not split the caller's words into two transcripts.
    stt = VoskSTTService(vosk_model)
    half = len(speech_8k) // 2
    first, second = speech_8k[:half], speech_8k[half:]
    frames = (said(first, end=False) + [VADUserStoppedSpeakingFrame(stop_secs=0.2)]
              + audio_frames(silence(0.3)) + [VADUserStartedSpeakingFrame(start_secs=0.2)]
              + audio_frames(second) + [VADUserStoppedSpeakingFrame(stop_secs=0.2),
                                        UserStoppedSpeakingFrame()])
    down, _ = run(run_test(stt, frames_to_send=frames, pipeline_params=PHONE))
    finals = transcripts(down)
    assert len(finals) == 1
    assert finals[0].result["utterances"] == 2

    # Both stretches were decoded (Kaldi is not bit-for-bit repeatable across runs, so the words
    # themselves are not compared with a separate run).
    assert len(finals[0].text.split()) >= 2
    assert finals[0].result["heard"] == finals[0].text


def test_a_vad_stop_alone_delivers_nothing_until_the_turn_ends(vosk_model, speech_8k) -> None:  # noqa: ANN001
    stt = VoskSTTService(vosk_model)
    frames = said(speech_8k, end=False) + [VADUserStoppedSpeakingFrame(stop_secs=0.2)]
    down, _ = run(run_test(stt, frames_to_send=frames + audio_frames(silence(0.5)), pipeline_params=PHONE))
    assert transcripts(down) == []

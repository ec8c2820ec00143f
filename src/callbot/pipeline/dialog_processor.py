"""The pipecat processor that lets a `Conversation` drive a phone call.

It turns caller events (final transcripts, DTMF digits, silence) into calls on the conversation,
speaks the replies as `TTSSpeakFrame`s, records every turn, and ends the call when the dialog
says so.

Replies are spoken segment by segment (consecutive prompts of the same interruptibility). A
segment is over when the caller has *heard* it: the telephony side queues a playback mark behind
its audio and the echo of that mark comes back (Twilio echoes marks when playout reaches them, or
at once after a `clear`). Without marks (processor tests) the bot's own stop-speaking signal is
used. A non-interruptible segment (the AI disclosure of the greeting) closes the barge-in gate.
Segments and marks: playback.py; the gate: barge_in.py; the per-stage timing: response_clock.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    Frame,
    InputDTMFFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor, FrameProcessorSetup

from callbot.dialog.types import Prompt, Reply, SmsLink
from callbot.pipeline.barge_in import BargeInGate
from callbot.pipeline.playback import PlaybackMarks, pause_frame, segments, still_to_say
from callbot.pipeline.response_clock import ResponseClock


class Conversation(Protocol):
    def start(self) -> Reply: ...
    def hear(self, text: str) -> Reply: ...
    def dtmf(self, digit: str) -> Reply: ...
    def silence(self) -> Reply: ...
    def wrap_up(self, reason: str) -> Reply: ...


class Recorder(Protocol):
    async def turn(self, speaker: str, text: str, **fields: Any) -> int | None: ...  # noqa: ANN401
    async def set_turn_latency(self, turn_id: int, response_ms: float) -> None: ...
    async def event(self, kind: str, data: dict[str, Any] | None = None) -> None: ...


class DialogProcessor(FrameProcessor):
    """Sits between the recogniser and the TTS.

    Args:
        conversation: one call's dialog (`callbot.dialog.conversation.Conversation`).
        recorder: where turns, latencies and events are written.
        on_end: awaited once the last reply has been heard, before the call ends.
        gate: shared with the turn-start strategy (barge-in allowed or not).
        marks: the wire protocol's playback marks; None falls back on the bot's stop signal.
        on_expect: told what the next caller turn should be (the recogniser narrows its grammar).
        turn_end: what ended the caller's turn and when (the turn strategy's record).
        vad_stop_secs: the VAD's stop delay, taken off the measured response time.
        vad_stopped: when the VAD decided the caller went silent, how long the frame that told it
            waited after the socket, and how late that frame was read off the socket
            (pipeline/input_lag.py): the record starts at the caller's last sound, however late
            the VAD's stop frame reaches this processor.
        no_audio_secs: a segment with no audio at all after this is given up (a TTS failure).
        mark_grace_secs: how long to wait for a mark's echo once the audio has left.
        send_sms: sends a text message the caller agreed to (pipeline/sms.py), off the call's path.
        max_call_secs: the call is wrapped up (transfer or goodbye) after this long; None: no limit.
        max_speech_secs: one continuous caller turn longer than this wraps the call up too.
        max_silent_prompts: no-input re-prompts in a row after which the call is wrapped up.
    """

    def __init__(
        self,
        conversation: Conversation,
        recorder: Recorder,
        *,
        on_end: Callable[[Reply], Awaitable[None]],
        gate: BargeInGate | None = None,
        marks: PlaybackMarks | None = None,
        on_expect: Callable[[str], None] | None = None,
        turn_end: Callable[[], tuple[str | None, float | None]] | None = None,
        vad_stop_secs: float = 0.0,
        vad_stopped: Callable[[], tuple[float | None, float, float]] | None = None,
        no_audio_secs: float = 15.0,
        mark_grace_secs: float = 30.0,
        send_sms: Callable[[str, str], Awaitable[bool]] | None = None,
        max_call_secs: float | None = None,
        max_speech_secs: float | None = None,
        max_silent_prompts: int | None = None,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        super().__init__(**kwargs)
        self._conv = conversation
        self._rec = recorder
        self._on_end = on_end
        self._marks = marks
        self._out_rate = 0  # the output's sample rate, from the pipeline's setup
        self._on_expect = on_expect
        # What ended the caller's turn and when (the turn strategy knows; the stop frame reaches
        # this processor only after the recogniser's final, so its arrival time would be late).
        self._turn_end = turn_end
        self.gate = gate or BargeInGate()
        self._vad_stop_secs = vad_stop_secs
        self._vad_stopped = vad_stopped
        self._no_audio_secs = no_audio_secs
        self._mark_grace_secs = mark_grace_secs
        self._send_sms = send_sms

        self._pending: list[list[Prompt]] = []  # segments still to speak for the current reply
        self._speaking = False  # a segment has been sent and is not heard yet
        self._segment_interruptible = True
        self._awaited_mark: str | None = None
        self._mark_count = 0
        self._user_speaking = False
        self._reply: Reply | None = None
        self._ending = False
        self._idle_task: asyncio.Task | None = None
        self._watchdog_task: asyncio.Task | None = None
        # Every call ends: limits on the whole call, one caller turn, and silence in a row.
        self._max_call_secs = max_call_secs
        self._max_speech_secs = max_speech_secs
        self._max_silent_prompts = max_silent_prompts
        self._silent_prompts = 0
        self._call_limit_task: asyncio.Task | None = None
        self._speech_limit_task: asyncio.Task | None = None
        self._stopped = False  # the pipeline is ending: timers must do nothing more
        # Latency: end of caller speech → first bot audio, stored on the caller's turn.
        self._caller_stopped_at: float | None = None
        self._latency_turn_id: int | None = None
        self._latency_ms: float | None = None
        self.latencies_ms: list[float] = []
        self._clock = ResponseClock()

    # -- frames ---------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)

        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            if self._max_call_secs:
                self._call_limit_task = self.create_task(self._limit_after(self._max_call_secs, "time_limit"))
            await self._handle(self._conv.start(), caller_text=None)
        elif isinstance(frame, TranscriptionFrame):
            text = (frame.text or "").strip()
            if text and not self._ending:
                self._silent_prompts = 0
                self._clock.transcript = time.monotonic()
                self._clock.recogniser = frame.result if isinstance(frame.result, dict) else None
                asr_ms = getattr(frame, "asr_ms", None)
                logger.debug("heard {} characters (recogniser {} ms, final {} ms)", len(text), asr_ms,
                             frame.result.get("final_ms") if isinstance(frame.result, dict) else None)
                await self._handle(self._conv.hear(text), caller_text=text, asr_ms=asr_ms)
        elif isinstance(frame, InputDTMFFrame):
            await self.push_frame(frame, direction)
            if not self._ending:
                self._silent_prompts = 0
                digit = str(frame.button.value)
                self._caller_stopped_at = time.monotonic()
                self._clock = ResponseClock()
                await self._handle(self._conv.dtmf(digit), caller_text=digit, via_dtmf=True)
        elif isinstance(frame, InputTransportMessageFrame):
            await self.push_frame(frame, direction)
            name = self._marks.echo(frame) if self._marks else None
            if name is not None and name == self._awaited_mark:
                await self._segment_heard()
        elif isinstance(frame, UserStartedSpeakingFrame):
            self._user_speaking = True
            self._cancel_idle()
            if self._max_speech_secs and not self._ending:
                self._cancel_speech_limit()
                self._speech_limit_task = self.create_task(
                    self._limit_after(self._max_speech_secs, "time_limit"))
            await self.push_frame(frame, direction)
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._user_speaking = False
            self._cancel_speech_limit()
            ended_by, ended_at = self._turn_end() if self._turn_end else (None, None)
            if ended_at is None or (self._clock.vad_stop is not None and ended_at < self._clock.vad_stop):
                # Not ended by the strategy (pipecat's own stop timeout): what is known is now.
                ended_by, ended_at = None, time.monotonic()
            self._clock.turn_end, self._clock.ended_by = ended_at, ended_by
            await self.push_frame(frame, direction)
            if not self._speaking and not self._ending and self._reply is not None:
                # Speech that yields no transcript (noise, a cough) must not leave the line dead.
                self._arm_idle(self._reply.no_input_timeout)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            # The VAD reports the stop `stop_secs` after the caller's last sound.
            now = time.monotonic()
            stopped_at, lag_ms, wire_ms = self._vad_stopped() if self._vad_stopped else (None, 0.0, 0.0)
            if stopped_at is None or stopped_at > now:
                stopped_at = now
            self._caller_stopped_at = stopped_at - self._vad_stop_secs - (lag_ms + wire_ms) / 1000
            self._clock = ResponseClock(vad_stop=stopped_at, input_lag_ms=round(lag_ms + wire_ms, 1),
                                        stop_seen=now)
            await self.push_frame(frame, direction)
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._on_bot_started()
            await self.push_frame(frame, direction)
        elif isinstance(frame, BotStoppedSpeakingFrame):
            await self.push_frame(frame, direction)
            await self._on_bot_stopped()
        elif isinstance(frame, InterruptionFrame):
            await self.push_frame(frame, direction)
            if self._segment_interruptible and not self._ending:
                # Barge-in: what was left of the reply is dropped; the bot listens.
                self._pending.clear()
                self._speaking = False
                self._awaited_mark = None
                self._cancel_watchdog()
        elif isinstance(frame, (EndFrame, CancelFrame)):
            self._stop_timers()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def setup(self, setup: FrameProcessorSetup) -> None:
        await super().setup(setup)
        self._out_rate = setup.audio_out_sample_rate

    # -- dialog ---------------------------------------------------------------------------
    async def _handle(self, reply: Reply, *, caller_text: str | None, asr_ms: float | None = None,
                      via_dtmf: bool = False) -> None:
        self._cancel_idle()
        if caller_text is not None:
            self._latency_turn_id = None
            self._latency_ms = None
            self.gate.held = False  # the words heard over the disclosure get this reply
        if self._on_expect:
            self._on_expect(reply.expect)
        prompts = reply.prompts
        if reply.end:
            self._ending = True
            # The last words (transfer announcement, goodbye) are always heard to the end.
            prompts = [replace(p, interruptible=False) for p in prompts]
            # The outcome stored at the end needs the transcript complete: record first.
            await self._record(reply, caller_text, asr_ms, via_dtmf)
        self._reply = reply
        # A new reply replaces whatever was still queued of the previous one.
        self._pending = segments(prompts)
        if caller_text is not None:
            self._clock.say = time.monotonic()
        if not self._speaking:
            await self._speak_next()
        if reply.sms is not None and self._send_sms is not None:
            self.create_task(self._text_link(reply.sms))
        if not reply.end:
            # Recorded once the reply is on its way: the database never delays the bot's answer.
            await self._record(reply, caller_text, asr_ms, via_dtmf)

    async def _record(self, reply: Reply, caller_text: str | None, asr_ms: float | None,
                      via_dtmf: bool) -> None:
        if caller_text is not None:
            u = reply.understanding
            turn_id = await self._rec.turn(
                "caller", caller_text,
                intent=u.intent if u else None, topic=u.topic if u else None,
                confidence=u.confidence if u else None, action=u.action if u else reply.action,
                fallback_reason=u.fallback_reason if u else None, asr_ms=asr_ms, via_dtmf=via_dtmf,
            )
            self._latency_turn_id = turn_id
            if turn_id is not None and self._latency_ms is not None:  # the bot already spoke
                await self._rec.set_turn_latency(turn_id, self._latency_ms)
            if u and u.fallback_reason:
                # Lengths, never the words: the unrecognised utterances live (redacted) in the database.
                logger.info("fallback: {} ({} characters)", u.fallback_reason, len(caller_text))
        spoken = " ".join(p.text for p in reply.prompts)
        if spoken:
            await self._rec.turn("bot", spoken, action=reply.action)

    async def _text_link(self, sms: SmsLink) -> None:
        """Send the link the caller agreed to; if it fails, tell them briefly (never the number in a log)."""
        try:
            sent = await self._send_sms(sms.to, sms.text) if self._send_sms else False
        except Exception as e:  # a sender must not raise; if one does, the call still goes on
            logger.warning("SMS not sent: {}", type(e).__name__)
            sent = False
        if not sent and not self._ending:
            self._pending.append([Prompt(sms.failed)])
            if not self._speaking:
                self._cancel_idle()
                await self._speak_next()
        await self._rec.event("sms", {"sent": sent})  # whether, never to whom or what

    async def _speak_next(self) -> None:
        self._pending = still_to_say(self._pending, caller_speaking=self._user_speaking and self.gate.held)
        if not self._pending:
            self._speaking = False
            await self._reply_done()
            return
        seg = self._pending.pop(0)
        self._segment_interruptible = seg[0].interruptible
        self.gate.allow = self._segment_interruptible
        self._speaking = True
        for p in seg:
            frame = TTSSpeakFrame(text=p.text)
            frame.interruptible = p.interruptible
            frame.cacheable = not p.private  # read by the TTS service (speech/piper_tts.py)
            await self.push_frame(frame)
        if self._marks is not None:
            self._mark_count += 1
            self._awaited_mark = f"seg-{self._mark_count}"
            mark = self._marks.make(self._awaited_mark)
            mark.interruptible = self._segment_interruptible  # survives a barge-in with its audio
            await self.push_frame(mark)
            if self._pending and self._out_rate:
                await self.push_frame(pause_frame(self._out_rate))  # see playback.SEGMENT_PAUSE_SECS
        self._arm_watchdog(self._no_audio_secs)

    async def _segment_heard(self) -> None:
        self._awaited_mark = None
        self._cancel_watchdog()
        self.gate.allow = True
        if self._speaking:
            await self._speak_next()

    def _on_bot_started(self) -> None:
        self.gate.bot_speaking = True
        self._cancel_watchdog()
        if self._caller_stopped_at is not None:
            now = time.monotonic()
            ms = (now - self._caller_stopped_at) * 1000
            timing = self._clock.breakdown(self._caller_stopped_at, now, self._vad_stop_secs)
            self._caller_stopped_at = None
            self._clock = ResponseClock()
            logger.info("response {response_ms} ms: input lag {input_lag_ms} + silence {vad_ms}"
                        " + turn end {turn_end_ms} ({ended_by}) + transcript {transcript_ms}"
                        " + dialog {dialog_ms} + first audio {audio_ms}; VAD stop reached the dialog"
                        " after {stop_queued_ms}", **timing)
            self.create_task(self._rec.event("turn.timing", timing))
            self.latencies_ms.append(ms)
            self._latency_ms = ms  # stored by _record if the caller's turn is not written yet
            if self._latency_turn_id is not None:
                self.create_task(self._rec.set_turn_latency(self._latency_turn_id, ms))

    async def _on_bot_stopped(self) -> None:
        self.gate.bot_speaking = False
        if self._speaking and self._awaited_mark is None:
            await self._segment_heard()  # no marks on this transport: the audio ending is all we know
        elif self._speaking:
            # pipecat sends audio ahead of playback, so the echo can come long after the last byte
            # left; waiting is safe (Twilio always echoes, at once after a `clear`).
            self._arm_watchdog(self._mark_grace_secs)
        elif not self._ending and self._reply is not None and not self._user_speaking:
            # Interrupted, then nothing came: wait for the caller as after a full reply.
            self._arm_idle(self._reply.no_input_timeout)

    async def _reply_done(self) -> None:
        reply = self._reply
        if reply is None:
            return
        if reply.end:
            self._reply = None
            await self._on_end(reply)
            await self.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)
            return
        self._arm_idle(reply.no_input_timeout)

    # -- timers ---------------------------------------------------------------------------
    def _arm_idle(self, secs: float) -> None:
        self._cancel_idle()
        if secs and secs > 0:
            self._idle_task = self.create_task(self._idle_after(secs))

    async def _idle_after(self, secs: float) -> None:
        await asyncio.sleep(secs)
        self._idle_task = None
        if not self._ending and not self._user_speaking and not self._stopped:
            await self._rec.event("no_input", {"after_secs": secs})
            self._silent_prompts += 1
            if self._max_silent_prompts and self._silent_prompts > self._max_silent_prompts:
                await self._wrap_up("no_input")
                return
            await self._handle(self._conv.silence(), caller_text=None)

    def _cancel_idle(self) -> None:
        if self._idle_task:
            self._idle_task.cancel()
            self._idle_task = None

    def _arm_watchdog(self, secs: float) -> None:
        # Never leave the caller in silence: no audio at all (a TTS failure) or a lost mark echo.
        self._cancel_watchdog()
        self._watchdog_task = self.create_task(self._watchdog(secs))

    async def _watchdog(self, secs: float) -> None:
        await asyncio.sleep(secs)
        self._watchdog_task = None
        if self._speaking and not self.gate.bot_speaking and not self._stopped:
            logger.warning("segment not confirmed as heard after {} s; moving on", secs)
            await self._segment_heard()

    def _cancel_watchdog(self) -> None:
        if self._watchdog_task:
            self._watchdog_task.cancel()
            self._watchdog_task = None

    async def _limit_after(self, secs: float, reason: str) -> None:
        await asyncio.sleep(secs)
        # This task is the one running the wrap-up: cancelling it would cut the wrap-up short.
        me = asyncio.current_task()
        if self._speech_limit_task is me:
            self._speech_limit_task = None
        if self._call_limit_task is me:
            self._call_limit_task = None
        if not self._stopped:
            logger.warning("call limit reached after {} s: wrapping up", secs)
            await self._wrap_up(reason)

    def _cancel_speech_limit(self) -> None:
        if self._speech_limit_task:
            self._speech_limit_task.cancel()
            self._speech_limit_task = None

    def _stop_timers(self) -> None:
        self._stopped = True
        self._cancel_idle()
        self._cancel_watchdog()
        self._cancel_speech_limit()
        if self._call_limit_task:
            self._call_limit_task.cancel()
            self._call_limit_task = None

    async def cleanup(self) -> None:
        """However the pipeline stops (end, cancel, a lost CancelFrame), no timer outlives the call."""
        self._stop_timers()
        await super().cleanup()

    # -- ending from outside the dialog ---------------------------------------------------
    async def wrap_up(self, reason: str) -> None:
        """End the call now with a polite transfer or goodbye (server shutdown).

        Called from outside the pipeline: the reply is made in one of this processor's own tasks,
        as the silence and limit timers do (frames pushed from a foreign task lost their audio).
        """
        if not self._ending and not self._stopped:
            self.create_task(self._wrap_up(reason))

    async def _wrap_up(self, reason: str) -> None:
        if self._ending or self._stopped:
            return
        try:
            reply = self._conv.wrap_up(reason)
        except Exception:  # a dialog bug must not keep the call open
            logger.exception("wrap-up failed")
            return
        self._cancel_speech_limit()
        await self._handle(reply, caller_text=None)

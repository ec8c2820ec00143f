"""One phone call: the pipecat pipeline between the telephony socket and the dialog.

transport in → VAD → caller-turn detection → Vosk STT → dialog → Piper TTS → transport out

The telephony side (telephony/routes.py) accepts the socket, checks the call, and hands over the
wire protocol (a frame serializer and its playback marks); nothing here knows Twilio's messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import WebSocket
from loguru import logger
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams
from pipecat.workers.runner import WorkerRunner

from callbot import metrics
from callbot.dialog.types import Reply
from callbot.pipeline.barge_in import BargeInGate, GatedVADTurnStart
from callbot.pipeline.dialog_processor import DialogProcessor
from callbot.pipeline.input_lag import MeasuredVADProcessor
from callbot.pipeline.media_transport import MediaStreamTransport
from callbot.pipeline.playback import PlaybackMarks
from callbot.pipeline.sms import SmsSender
from callbot.store.calls import CallRecorder
from callbot.vocabulary import Outcome

if TYPE_CHECKING:
    from callbot.runtime import Runtime
    from callbot.store.bus import EventBus

SAMPLE_RATE = 8000  # Twilio Media Streams: 8 kHz mu-law both ways
TTS_SILENCE_LIMIT_SECS = 20.0


async def run_call(ws: WebSocket, *, runtime: Runtime, bus: EventBus, serializer: FrameSerializer,
                   marks: PlaybackMarks, call_sid: str, stream_sid: str, caller: str | None,
                   called: str | None,
                   on_wrap_up: Callable[[Callable[[str], Awaitable[None]]], None] | None = None) -> None:
    """Run one call to its end (the caller hangs up, or the dialog ends or transfers it).

    Args:
        ws: the accepted media socket.
        runtime: the process's loaded engines (dialog, recogniser model, voice, prompt cache).
        bus: where call events go (started, ended, callback created) for the consoles.
        serializer: the wire protocol's frame serializer (Twilio Media Streams).
        marks: how that protocol tags audio so the dialog knows what the caller has heard.
        call_sid, stream_sid, caller, called: the call as the telephony provider names it.
        on_wrap_up: given the coroutine function that ends this call politely at once (shutdown).
    """
    from callbot.speech.piper_tts import PiperTTSService
    from callbot.speech.turns import WordsHint, build_hearing
    from callbot.speech.vosk_stt import VoskSTTService

    settings = runtime.settings
    recorder = CallRecorder(runtime.db, call_sid)
    await recorder.open(stream_sid=stream_sid, caller=caller, called=called, secret=runtime.secret)
    try:
        sms = SmsSender.from_settings(settings)  # None unless Twilio's API and a sender are configured
        conversation = runtime.dialog.new_conversation(caller=caller, sms=sms is not None)

        transport = MediaStreamTransport(ws, FastAPIWebsocketParams(
            audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
            serializer=serializer,
            allowed_origins=[],  # Twilio's socket has no Origin header
        ))

        script = None
        if runtime.asr_script is not None:
            script = iter(runtime.asr_script.get(caller or "", []))
        # The caller's words at a pause help decide whether their turn is over (speech/turns.py).
        hint = WordsHint(conversation.sounds_complete)
        stt = VoskSTTService(runtime.asr_model, transcripts=script, hint=hint,
                             busy_model=runtime.asr_busy_model, busy_turns=settings.asr_busy_turns)
        # A sentence may take seconds to synthesise when several calls share the CPU: pipecat's
        # default (3 s without audio ends the utterance) would drop it.
        tts = PiperTTSService(runtime.voice, runtime.prompts, stop_frame_timeout_s=TTS_SILENCE_LIMIT_SECS)
        gate = BargeInGate()
        vad, turns, vad_stop_secs = build_hearing(settings, start_strategies=[GatedVADTurnStart(gate)],
                                                  hint=hint, vad_processor=MeasuredVADProcessor)

        ended = False

        async def on_end(reply: Reply) -> None:
            nonlocal ended
            ended = True
            if reply.callback is not None:
                callback = reply.callback
                await recorder.add_callback(callback.number, callback.reason, callback.topic)
                await bus.publish("callback.created", {"call_sid": call_sid})
            transfer = reply.transfer
            outcome = reply.outcome or (Outcome.TRANSFERRED if transfer else Outcome.RESOLVED)
            await recorder.finish(
                outcome,
                topic=conversation.topic, intent=conversation.intent, summary=conversation.summary,
                transfer_kind=transfer.kind if transfer else None,
                transfer_target=transfer.target if transfer else None,
                transfer_reason=transfer.reason if transfer else None,
                service=transfer.service if transfer else None,
                satisfaction=reply.satisfaction,
            )
            await bus.publish("call.ended", {"call_sid": call_sid, "outcome": outcome})

        dialog = DialogProcessor(conversation, recorder, on_end=on_end, gate=gate,
                                 on_expect=stt.set_expectation, marks=marks,
                                 turn_end=lambda: hint.turn_end, vad_stop_secs=vad_stop_secs,
                                 vad_stopped=lambda: (vad.stopped_at, vad.last_lag_ms, vad.last_wire_late_ms),
                                 send_sms=sms.send_async if sms else None,
                                 max_call_secs=settings.max_call_secs,
                                 max_speech_secs=settings.max_speech_secs,
                                 max_silent_prompts=settings.max_silent_prompts)
        if on_wrap_up is not None:
            on_wrap_up(dialog.wrap_up)
        pipeline = Pipeline([transport.input(), vad, turns, stt, dialog, tts, transport.output()])
        worker = PipelineWorker(
            pipeline,
            params=PipelineParams(audio_in_sample_rate=SAMPLE_RATE, audio_out_sample_rate=SAMPLE_RATE),
            idle_timeout_secs=None,  # silence is the dialog's business (no-input re-prompts)
            enable_rtvi=False,  # nothing but Media Streams messages may go to Twilio
        )
    except Exception:  # a call the bot cannot run still reaches people, and its record is closed
        logger.exception("call {}: the bot could not start it; Twilio sends the caller to people", call_sid)
        await recorder.finish(Outcome.ABANDONED, summary="le robot n'a pas pu prendre l'appel")
        await bus.publish("call.ended", {"call_sid": call_sid, "outcome": Outcome.ABANDONED})
        with contextlib.suppress(Exception):
            await ws.close(code=1011, reason="bot unavailable")
        return

    @transport.event_handler("on_client_disconnected")
    async def _gone(_transport, _ws) -> None:  # noqa: ANN001
        if not ended:
            logger.info("call {}: socket closed by the caller's side", call_sid)
        await worker.cancel()

    await bus.publish("call.started", {"call_sid": call_sid})
    metrics.call_started()
    try:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()
    except Exception:  # a broken call must never take the server down
        logger.exception("call {} failed", call_sid)
    finally:
        metrics.call_ended()
        if not ended:
            await recorder.finish(Outcome.ABANDONED, topic=conversation.topic, intent=conversation.intent,
                                  summary=conversation.summary)
            await bus.publish("call.ended", {"call_sid": call_sid, "outcome": Outcome.ABANDONED})
        logger.info("call {}: response latencies {}; caller audio waited {:.0f} ms on average, {:.0f}"
                    " at most, before the VAD; read off the socket up to {:.0f} ms late", call_sid,
                    [round(x) for x in dialog.latencies_ms], vad.mean_lag_ms, vad.max_lag_ms,
                    vad.max_wire_late_ms)
        runtime.call_ended()

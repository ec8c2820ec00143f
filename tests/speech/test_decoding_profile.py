"""Vosk decoding profiles: a cheaper search on the real Korean test model, the model left untouched."""

from __future__ import annotations

import json
import time
from pathlib import Path

import vosk

from callbot.speech.decoding_profile import PROFILES, DecodingProfile, profiled_model_dir
from callbot.speech.vosk_stt import load_vosk_model
from tests.conftest import vosk_ko_model


def cpu_to_decode(model: vosk.Model, pcm: bytes) -> tuple[float, str]:
    rec = vosk.KaldiRecognizer(model, 8000)
    c0 = time.thread_time()
    for i in range(0, len(pcm), 1600):
        rec.AcceptWaveform(pcm[i:i + 1600])
    text = json.loads(rec.FinalResult())["text"]
    return time.thread_time() - c0, text


def test_the_fast_profile_decodes_the_same_speech_for_less_cpu(tmp_path: Path, vosk_model, speech_8k) -> None:  # noqa: ANN001
    original = vosk_ko_model()
    conf_before = (original / "conf" / "model.conf").read_text()
    shadow = profiled_model_dir(original, PROFILES["fast"], root=tmp_path)

    conf = (shadow / "conf" / "model.conf").read_text().splitlines()
    assert "--beam=8.0" in conf and "--max-active=1500" in conf
    assert "--beam=10.0" not in conf and "--min-active=200" in conf  # the rest is the model's
    assert (original / "conf" / "model.conf").read_text() == conf_before
    assert profiled_model_dir(original, PROFILES["model"], root=tmp_path) == original.resolve()

    fast = load_vosk_model(shadow)
    fast_cpu, fast_text = cpu_to_decode(fast, speech_8k)
    model_cpu, _ = cpu_to_decode(vosk_model, speech_8k)
    assert fast_text  # still hears words
    assert fast_cpu < model_cpu


def test_another_setting_makes_another_folder(tmp_path: Path) -> None:
    a = profiled_model_dir(vosk_ko_model(), DecodingProfile("x", beam=9.0), root=tmp_path)
    b = profiled_model_dir(vosk_ko_model(), DecodingProfile("x", beam=7.0), root=tmp_path)
    assert a != b and "--beam=7.0" in (b / "conf" / "model.conf").read_text()
    assert profiled_model_dir(vosk_ko_model(), DecodingProfile("x", beam=9.0), root=tmp_path) == a

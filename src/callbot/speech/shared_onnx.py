"""Silero VAD and Smart Turn v3 with their ONNX sessions loaded once per process.

pipecat builds an onnxruntime session in every analyzer's constructor, i.e. for every call
(about 0.1 s of CPU before the greeting can start). A session is stateless and safe to run from
several threads; what belongs to one call (the VAD's recurrent state, the turn model's audio
buffer) stays per analyzer.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams


@lru_cache(maxsize=1)
def _silero_template() -> SileroOnnxModel:
    return SileroVADAnalyzer()._model


@lru_cache(maxsize=1)
def _smart_turn_session():  # noqa: ANN202 - an onnxruntime.InferenceSession
    return LocalSmartTurnAnalyzerV3()._session


class SharedSileroVADAnalyzer(SileroVADAnalyzer):
    def __init__(self, *, params: VADParams | None = None) -> None:
        VADAnalyzer.__init__(self, sample_rate=None, params=params)
        model = copy.copy(_silero_template())  # same session, fresh recurrent state
        model.reset_states()
        self._model = model
        self._windows_since_reset = 0
        self._low_confidence_windows = 0


class SharedSmartTurnAnalyzerV3(LocalSmartTurnAnalyzerV3):
    def __init__(self, *, params: SmartTurnParams | None = None) -> None:
        BaseSmartTurn.__init__(self, params=params)
        self._log_data = False
        self._session = _smart_turn_session()

# RMS of a 16-bit window below which it is taken as silence without running Silero: -70 dBFS,
# under a phone line's noise floor and 10 dB under the quietest sound pipecat's `min_volume` (0.5,
# -60 LUFS over 400 ms) lets count as speech.
SILENCE_RMS = 32768 * 10 ** (-70 / 20)


class GatedSileroVADAnalyzer(SharedSileroVADAnalyzer):
    """Silero that does not run on silence.

    (Running it on the event loop instead of pipecat's thread per call was tried: at 12 calls
    arriving one per second, responses were twice as late on the wire: bench/bench_load.py.)
    """

    def voice_confidence(self, buffer: bytes) -> float:
        # A window quieter than SILENCE_RMS is no voice whatever Silero says (pipecat counts speech
        # only above `min_volume`, far louder): skip the model. Callers are silent most of a call
        # (they listen while the bot speaks).
        samples = np.frombuffer(buffer, np.int16).astype(np.int64)
        if samples.size and int(np.dot(samples, samples)) < SILENCE_RMS**2 * samples.size:
            return 0.0
        return super().voice_confidence(buffer)

"""Silero VAD and Smart Turn v3 with their ONNX sessions loaded once per process.

pipecat builds an onnxruntime session in every analyzer's constructor, i.e. for every call
(about 0.1 s of CPU before the greeting can start). A session is stateless and safe to run from
several threads; what belongs to one call (the VAD's recurrent state, the turn model's audio
buffer) stays per analyzer.
"""

from __future__ import annotations

import copy
from functools import lru_cache

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

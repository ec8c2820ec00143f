"""Speech: hearing the caller and speaking to them, offline.

- `vosk_stt`: `load_vosk_model`, `VoskSTTService` (pipecat STT; finals forced at the end of the
  caller's turn; `set_expectation` for yes/no and digit grammars).
- `piper_tts`: `PiperVoiceEngine` (one voice per process), `PiperTTSService` (pipecat TTS, 8 kHz).
- `prompt_cache`: `PromptCache` (fixed prompts synthesised once, on disk as 8 kHz mu-law).
- `turns`: `build_hearing` (Silero VAD + Smart Turn v3 end-of-turn detection).
- `models` / `models_cli`: the model manifest and `callbot models list|download|verify`.

"""

"""Settings read from the environment (``CALLBOT_*``), documented in the README."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLBOT_", extra="ignore")

    # Speech models: default to what `callbot models download` fetches.
    asr_model: Path | None = None
    tts_voice: Path | None = None
    tts_language: str | None = None
    models_dir: Path = DEFAULT_MODELS_DIR
    # Serve with the package-shipped test models (speech/models.py: demo_models) instead of the ones
    # above: what `make run` does offline. Loud (log banner, every page, /healthz), never implicit.
    demo_models: bool = False

    flows: Path = PROJECT_ROOT / "flows"
    database_url: str = "sqlite:///var/callbot.db"
    public_url: str = "http://127.0.0.1:8000"
    twilio_auth_token: str | None = None
    # Without an auth token the Twilio routes refuse every request (403) unless this is set: tests
    # and `callbot simulate` against a local server only. The server warns loudly when it is.
    allow_unsigned: bool = False
    # Links by SMS (pipeline/sms.py), off unless all of these are set: the account, an API key and
    # its secret (or the auth token above in place of both), and the sending number or sender id.
    twilio_account_sid: str | None = None
    twilio_api_key: str | None = None
    twilio_api_secret: str | None = None
    sms_from: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    now: datetime | None = None

    # Secret for per-call tokens and session cookies; generated into var/ when unset.
    secret_key: str | None = None
    # Twilio opens the media socket within seconds of the webhook's answer; a token is used once.
    call_token_ttl_secs: int = Field(default=60, ge=5, le=600)
    prompt_cache_dir: Path = Path("var/prompt-cache")
    # Synthesise the flows' static answers in the background after start-up (fixed prompts such
    # as the greeting are always ready before the first call).
    warm_answers: bool = True
    # GET /metrics (callbot/metrics.py): with a token, `Authorization: Bearer <token>`; else loopback only.
    metrics_token: str | None = None
    # Live events across processes: "memory", "postgres" (LISTEN/NOTIFY) or a redis:// URL.
    events_url: str = "memory"
    # GDPR: calls, transcripts and callbacks older than this are erased by `callbot purge`.
    retention_days: int = Field(default=90, ge=1)
    # The audit log (who read or changed personal data) is kept this long, then `callbot purge`
    # drops it: a year, what the CNIL recommends for access traces.
    audit_retention_days: int = Field(default=365, ge=1)
    log_level: str = "INFO"
    # Console logins (web/throttle.py): failures allowed before an account or an address is slowed
    # down (each further failure doubles the wait, up to the cap), and concurrent argon2 checks.
    login_free_failures: int = Field(default=5, ge=1)
    login_ip_free_failures: int = Field(default=30, ge=1)
    login_lock_secs: float = Field(default=30, gt=0)
    login_lock_max_secs: float = Field(default=900, gt=0)
    login_concurrent_checks: int = Field(default=2, ge=1, le=64)
    # Turn-taking on the line (speech/turns.py): silence before the VAD reports a pause, and the
    # silence after which a sentence the turn model hears as unfinished still ends the turn.
    vad_stop_secs: float | None = Field(default=None, gt=0, le=2)
    turn_silence_secs: float | None = Field(default=None, gt=0, le=5)
    # Recognisers warmed at start-up (speech/recognizers.py): a cold one decodes a caller's first
    # question slower than real time. One more is warmed in the background whenever none is spare.
    asr_warm_recognizers: int = Field(default=2, ge=0, le=16)
    # Warm recognisers kept in all (idle or in a caller's turn), the rest warmed in the background
    # after start-up: as many callers as this can start talking in the same second without one
    # decoding cold (about 60 to 190 MB each; speech/recognizers.py).
    asr_ready_recognizers: int = Field(default=12, ge=0, le=64)
    # Vosk search settings (speech/decoding_profile.py): "model" (the model's own), "fast", or
    # "adaptive": the model's own, and "fast" for a turn that starts while `asr_busy_turns` others
    # are being decoded (a second copy of the model in memory; README "Sizing").
    asr_profile: Literal["model", "fast", "adaptive"] = "model"
    asr_busy_turns: int = Field(default=2, ge=1)
    # Test seam only: a JSON file {caller number: [utterances]} whose lines replace what the
    # recogniser heard (the real recogniser still runs). Lets tests speak French to a Korean model.
    asr_script: Path | None = None

    # Faults and limits (telephony/admission.py, store/journal.py, pipeline/dialog_processor.py).
    # Simultaneous bot calls per process; beyond, callers go straight to the human queue.
    # 20: on 2 cores, 20 calls arriving one a second are answered with p95 650 ms on the wire and
    # 12 callers stopping in the same second with p95 3.2 s (bench/bench_load.py, README "Sizing").
    max_calls: int = Field(default=20, ge=1)
    max_sockets_per_ip: int = Field(default=40, ge=1)
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    # Twilio sends 50 media messages a second; a burst absorbs network jitter.
    ws_max_messages_per_sec: float = Field(default=150.0, gt=0)
    ws_burst_messages: int = Field(default=1500, ge=1)
    # Every call ends: the whole call, and one continuous caller turn, then a polite transfer/goodbye.
    max_call_secs: float = Field(default=900.0, gt=0)
    max_speech_secs: float = Field(default=45.0, gt=0)
    # No-input re-prompts in a row after which the call ends whatever the dialog state.
    max_silent_prompts: int = Field(default=6, ge=1)
    # SIGTERM: calls in progress may finish this long, then are transferred.
    shutdown_drain_secs: float = Field(default=60.0, ge=0)
    # Durable journal of call writes while the database is away (default: var/journal).
    journal_dir: Path = Path("var/journal")

    @model_validator(mode="after")
    def _local_public_url(self) -> Settings:
        """Without CALLBOT_PUBLIC_URL, Twilio (or `callbot simulate`) reaches this server where it listens."""
        if "public_url" not in self.model_fields_set:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
            self.public_url = f"http://{host}:{self.port}"
        return self

    def resolved_asr_model(self) -> Path:
        return self.asr_model or self.models_dir / "vosk-model-small-fr-0.22"

    def resolved_tts_voice(self) -> Path:
        return self.tts_voice or self.models_dir / "fr_FR-siwis-medium.onnx"

    def clock(self) -> datetime:
        """What the dialog treats as now (CALLBOT_NOW pins it for demos and tests)."""
        if self.now is not None:
            return self.now
        return datetime.now().astimezone()


@lru_cache
def get_settings() -> Settings:
    return Settings()


def server_secret(settings: Settings) -> bytes:
    """The secret that signs per-call tokens and session cookies.

    CALLBOT_SECRET_KEY wins; otherwise a random one is generated once and kept in var/secret_key
    (mode 600) so restarts and several worker processes share it.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path("var/secret_key")
    if not path.exists():
        import os
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        # Atomic: two workers starting together end up with the same secret.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip().encode()

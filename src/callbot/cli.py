"""The `callbot` command. Each domain contributes a Typer sub-app; this file only assembles them."""

from __future__ import annotations

import typer

app = typer.Typer(help="callbot: the voice switchboard for French town halls.", no_args_is_help=True)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="listen address (CALLBOT_HOST)"),
    port: int | None = typer.Option(None, help="listen port (CALLBOT_PORT)"),
    workers: int = typer.Option(1, min=1, help="server processes (share the queue through the database; "
                                                  "set CALLBOT_EVENTS_URL for live events across them)"),
) -> None:
    """Run the server: Twilio webhooks, media socket, agents' console and dashboard."""
    import uvicorn

    from callbot.config import get_settings
    from callbot.logs import configure_logging, uvicorn_log_config

    settings = get_settings()
    configure_logging(settings.log_level)
    common = {"host": host or settings.host, "port": port or settings.port,
              "log_level": settings.log_level.lower(), "ws_ping_interval": 20, "ws_ping_timeout": 20,
              # Live-update connections of the console would otherwise hold a restart for minutes.
              "timeout_graceful_shutdown": 3, "log_config": uvicorn_log_config(),
              # An oversized media message is refused (1009) before it is buffered (telephony/admission.py).
              "ws_max_size": settings.ws_max_message_bytes,
              # Twilio does not compress its media messages; a client that offers to would make the
              # server deflate every 20 ms of audio (8 % of the event loop at 20 calls, bench_load).
              "ws_per_message_deflate": False}
    if workers > 1:
        # Each process loads its own models once (see callbot.app.factory).
        uvicorn.run("callbot.app:factory", factory=True, workers=workers, **common)
    else:
        from callbot.app import create_app

        uvicorn.run(create_app(settings), **common)


from callbot.analytics.retention_purge import purge  # noqa: E402
from callbot.store.data_cli import access, erase  # noqa: E402

app.command()(purge)
app.command()(erase)
app.command()(access)

from callbot.devtools.simulator.cli import register as register_simulate  # noqa: E402

register_simulate(app)

from callbot.analytics.cli import register as register_stats  # noqa: E402

register_stats(app)

from callbot.devtools.seed_cli import register as register_seed  # noqa: E402

register_seed(app)

from callbot.speech.models_cli import models_app  # noqa: E402

app.add_typer(models_app, name="models")

from callbot.web.users_cli import users_app  # noqa: E402

app.add_typer(users_app, name="users")

from callbot.store.audit_cli import register as register_audit  # noqa: E402

register_audit(app)

from callbot.dialog.nlu_cli import register as register_nlu  # noqa: E402

register_nlu(app)

from callbot.dialog.evaluation import eval_app  # noqa: E402

app.add_typer(eval_app, name="eval")

from callbot.dialog import flows_cli  # noqa: E402
from callbot.dialog.chat import chat  # noqa: E402
from callbot.dialog.flows_cli import flows_app  # noqa: E402
from callbot.speech.durations import configured_voice_seconds  # noqa: E402

flows_cli.voice_clock = configured_voice_seconds  # `flows test --timing` speaks with the configured voice

app.add_typer(flows_app, name="flows")
app.command()(chat)

if __name__ == "__main__":
    app()

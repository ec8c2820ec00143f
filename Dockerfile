# callbot server image. Speech models are not baked in: mount them at /models (read-only is fine),
# or they are downloaded there at start by `callbot models download`.
#   docker build -t callbot .
#   docker run -p 8000:8000 -v callbot-models:/models -v callbot-data:/data \
#     -e CALLBOT_PUBLIC_URL=https://mairie.example.org callbot
# Several processes sharing PostgreSQL and Redis behind an HTTPS proxy: compose.yaml (README,
# "Deploying on several processes/hosts"); it runs this image's `callbot serve` and
# `callbot models download` as separate services.

# Front-end assets (htmx) come from npm, as in `make assets`; the app serves them itself (no CDN).
FROM node:20-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
COPY scripts/vendor-assets.sh scripts/
RUN mkdir -p src/callbot/web/static \
    && npm ci --no-audit --no-fund --loglevel=error && bash scripts/vendor-assets.sh

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# libgomp1: OpenMP runtime that onnxruntime (Piper, Silero) and Vosk's Kaldi load.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY src src
COPY --from=assets /build/src/callbot/web/static/vendor src/callbot/web/static/vendor
RUN pip install . && rm -rf build
COPY flows flows

# Everything the server writes (SQLite database, secret key, prompt cache) lives in /data; relative
# var/ paths resolve there because it is the working directory.
ENV CALLBOT_HOST=0.0.0.0 CALLBOT_PORT=8000 \
    CALLBOT_FLOWS=/app/flows CALLBOT_MODELS_DIR=/models \
    CALLBOT_DATABASE_URL=sqlite:////data/callbot.db CALLBOT_PROMPT_CACHE_DIR=/data/prompt-cache
RUN useradd --system --create-home --home-dir /data callbot && mkdir -p /models && chown callbot /models
USER callbot
WORKDIR /data
VOLUME ["/data", "/models"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
# Download the French models only when the configured ones are absent, then serve. No fallback:
# when they cannot be had the container stops with the download's error (the demo models of
# `make run` are not installed in the image, so CALLBOT_DEMO_MODELS=1 is a clear error here too).
CMD ["sh", "-c", "python -c 'import sys; from callbot.config import get_settings as g; s = g(); sys.exit(0 if s.resolved_asr_model().is_dir() and s.resolved_tts_voice().is_file() else 1)' || callbot models download || exit 1; exec callbot serve --host 0.0.0.0"]

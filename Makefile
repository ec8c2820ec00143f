# callbot: two set-up commands (see README): `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
VENDOR := src/callbot/web/static/vendor

.PHONY: run test run-test-models install install-demo install-test assets nlu-model browser lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# The demo extra: the package-shipped test models `make run` falls back to offline.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-demo $(VENV)/.installed

install: $(VENV)/.installed
install-demo: $(VENV)/.installed-demo
install-test: $(VENV)/.installed-test

# Front-end assets (htmx) come from npm and are served by the app itself: no CDN.
$(VENDOR)/.stamp: package.json package-lock.json scripts/vendor-assets.sh
	npm ci --no-audit --no-fund --loglevel=error
	bash scripts/vendor-assets.sh
	touch $@
assets: $(VENDOR)/.stamp

# The topic layer's model and the emergency classifier, built from the public-service sheets npm just
# installed (cached in var/nlu/ by their inputs: a no-op when nothing changed). Without them the server
# runs flows-only and on the emergency patterns alone, and says so.
nlu-model: install assets
	$(BIN)/callbot nlu-data >/dev/null || echo "make: topic model unavailable: understanding is flows-only" >&2

# Browser tests drive Debian's Chromium (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The French models when they can be fetched (or are configured); offline, the package-shipped
# demo models, loudly (log banner, every page, /healthz "models": "demo"). `callbot serve` alone
# and the Docker image never fall back: CALLBOT_DEMO_MODELS=1 is the explicit switch.
run: install-demo assets nlu-model
	@if { [ -n "$$CALLBOT_ASR_MODEL" ] && [ -n "$$CALLBOT_TTS_VOICE" ]; } || $(BIN)/callbot models download; then \
	  exec $(BIN)/callbot serve; \
	else \
	  echo "make run: French models unavailable (no internet?): serving with the DEMO models," \
	       "which understand no French (CALLBOT_DEMO_MODELS=1)" >&2; \
	  exec env CALLBOT_DEMO_MODELS=1 $(BIN)/callbot serve; \
	fi

# Same server with the models that PyPI packages ship (Korean ASR, English voice speaking French),
# accepting the unsigned webhooks of `callbot simulate` (a local test server, never a public one:
# without CALLBOT_TWILIO_AUTH_TOKEN or this switch, the Twilio routes refuse every request).
run-test-models: install-demo assets nlu-model
	CALLBOT_DEMO_MODELS=1 CALLBOT_ALLOW_UNSIGNED=1 $(BIN)/callbot serve

test: install-test assets browser nlu-model
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -q

lint: install-test
	$(BIN)/ruff check src tests bench

bench: install-test
	$(BIN)/python bench/bench_call.py
	$(BIN)/python bench/bench_nlu.py
	$(BIN)/python bench/bench_speech.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var .pytest_cache

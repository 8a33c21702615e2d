# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, install the project (+ Debian packages when root), run the quick study, build its report
#   make test   - the same set-up, then the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: demo test test-all install system-deps clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: python3.11 not found"; exit 1; }
	@echo "==> creating $(VENV) with $(PYTHON) and installing the project (about 3 minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip<27"
	$(BIN)/pip install --quiet -e '.[dev,postgres,hpo]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: install system-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m studies run studies/quick.yaml
	HF_HUB_OFFLINE=1 $(BIN)/python -m studies status studies/quick.yaml
	@echo "Optuna study 'quick': sqlite:///runs/quick/optuna.db   (optuna studies --storage sqlite:///runs/quick/optuna.db)"
	HF_HUB_OFFLINE=1 $(BIN)/python -m reports build studies/quick.yaml --out runs/quick/report
	@echo "Report: $(CURDIR)/runs/quick/report/index.md"

test: install system-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: install system-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache

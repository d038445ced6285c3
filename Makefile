# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv if it is missing and say what
# they are doing while they install; `make test` also installs the system programs its tests need (.ci/system-deps).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint clean install system-deps

$(BIN)/python:
	@echo "== creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --progress-bar on pip "setuptools<81" wheel

$(STAMP): $(BIN)/python pyproject.toml
	@echo "== installing vrbench and its test extras into $(VENV) (a few minutes on a fresh machine: the PyPI torch build brings CUDA libraries)"
	$(BIN)/pip install --progress-bar on -e ".[test]"
	touch $(STAMP)
	@echo "== installed"

install: $(STAMP)

system-deps:
	@.ci/system-deps

demo: $(STAMP)
	@echo "== vrbench weights fetch niqe   (NIQE's parameters: BasicSR's GitHub, else the basicsr sdist on PyPI; the demo runs without them)"
	-$(BIN)/vrbench weights fetch niqe
	@echo "== vrbench run demo --replace   (a demo run of an older config is archived as demo@<time>)"
	$(BIN)/vrbench run demo --replace

test: $(STAMP) system-deps
	@echo "== test suite"
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check vrbench tests

clean:
	rm -rf .vrbench reports/demo

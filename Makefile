# Two commands do all set-up on a fresh machine (see README):
#   make demo   # create .venv if needed, run the main job on the bundled default
#   make test   # create .venv if needed, lint and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean-venv

venv: $(STAMP)

# Reinstall only when the install recipe changes; reruns reuse the environment.
$(STAMP): setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=23.1" "setuptools>=68" wheel
	$(BIN)/python -m pip install -e ".[all]"
	@touch $(STAMP)

# The sample recording through the real depth_node with the bundled student; results in out/demo.
demo: $(STAMP)
	$(BIN)/python -m adu_depth_ros.demo --out out/demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

clean-venv:
	rm -rf $(VENV)

# Two commands on a fresh machine: `make invoke` and `make test`. The virtual
# environment is created here; nothing else needs installing (Redis tests run
# when redis-server is on PATH, and always in CI).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EVENT ?= events/apigw.json
STAMP := $(VENV)/.installed

.PHONY: help venv test lint invoke serve call backfill emulator bench package layer verify-package deploy clean

help:
	@echo "make invoke [EVENT=events/ckafka.json] [REAL=1]  run main_handler on a sample event against the embedded emulator"
	@echo "make test                                         run the test suite"
	@echo "make lint                                         ruff and mypy"
	@echo "make bench                                        benchmarks against the emulator (writes bench/RESULTS.md)"
	@echo "make serve [PORT=8000]                            the function behind a local HTTP server (a Function URL)"
	@echo "make call URL=http://127.0.0.1:8000/ BODY='{...}'  sign (REPORT_SIGNING_SECRET) and post one request"
	@echo "make backfill FILE=conversions.csv [ARGS=...]    report missed conversions from a CSV or JSON Lines file"
	@echo "make emulator                                     serve the SMS API emulator on 127.0.0.1:9000"
	@echo "make package                                      build dist/function.zip (and layer.zip, code.zip) with Python 3.10"
	@echo "make verify-package                               prove the zip on Python 3.10, read-only, with bytecode"
	@echo "make deploy [FIRST=1] [DRY_RUN=1]                  deploy with tccli from template.yaml's values"

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

invoke: $(STAMP)
	$(BIN)/python -m local.invoke $(EVENT) $(if $(REAL),--real,)

serve: $(STAMP)
	$(BIN)/python -m local.serve $(if $(PORT),--port $(PORT),) $(if $(REAL),--real,)

call: $(STAMP)
	$(BIN)/python -m local.call '$(URL)' '$(BODY)'

backfill: $(STAMP)
	$(BIN)/python -m local.backfill '$(FILE)' $(ARGS)

emulator: $(STAMP)
	$(BIN)/python -m emulator --port 9000

bench: $(STAMP)
	$(BIN)/python -m bench

# The package is resolved and compiled by Python 3.10, SCF's runtime (PYTHON310, python3.10 or pyenv's):
# dist/function.zip (code + dependencies), dist/layer.zip + dist/code.zip for users of layers.
package: $(STAMP)
	$(BIN)/python -m tools.package build

layer: package

# Unzip read-only, serve every sample event (and one with Redis) on Python 3.10 -I -B, check that
# nothing compiles from source, measure cold start with and without bytecode (bench/RESULTS.md).
verify-package: package
	$(BIN)/python -m tools.package verify

# tccli, from template.yaml's values: FIRST=1 for a first deployment, else an update. DRY_RUN=1 prints.
deploy: package
	$(BIN)/python -m tools.deploy $(if $(FIRST),first,update) $(if $(DRY_RUN),--dry-run,)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

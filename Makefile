# Two commands on a fresh machine: `make invoke` and `make test`. The virtual
# environment is created here; nothing else needs installing (Redis tests run
# when redis-server is on PATH, and always in CI).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EVENT ?= events/apigw.json
STAMP := $(VENV)/.installed

.PHONY: help venv test lint invoke serve call backfill emulator bench package clean

help:
	@echo "make invoke [EVENT=events/ckafka.json] [REAL=1]  run main_handler on a sample event against the embedded emulator"
	@echo "make test                                         run the test suite"
	@echo "make lint                                         ruff and mypy"
	@echo "make bench                                        benchmarks against the emulator (writes bench/RESULTS.md)"
	@echo "make serve [PORT=8000]                            the function behind a local HTTP server (a Function URL)"
	@echo "make call URL=http://127.0.0.1:8000/ BODY='{...}'  sign (REPORT_SIGNING_SECRET) and post one request"
	@echo "make backfill FILE=conversions.csv [ARGS=...]    report missed conversions from a CSV or JSON Lines file"
	@echo "make emulator                                     serve the SMS API emulator on 127.0.0.1:9000"
	@echo "make package                                      build dist/function.zip for SCF (Python 3.10, x86_64)"

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

# SCF runs Linux x86_64: fetch wheels for that platform and Python 3.10 whatever this machine is.
package: $(STAMP)
	rm -rf build/package dist/function.zip
	mkdir -p build/package dist
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --target build/package \
		--platform manylinux2014_x86_64 --python-version 3.10 --implementation cp --only-binary=:all: \
		-r requirements.txt
	cp -r src/. build/package/
	find build/package -name '__pycache__' -prune -exec rm -rf {} +
	cd build/package && $(PYTHON) -m zipfile -c ../../dist/function.zip .
	@ls -l dist/function.zip

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

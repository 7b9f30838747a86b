# Two commands on a fresh machine: `make invoke` and `make test`. The virtual environment is created
# here, with Python 3.10 (SCF's runtime) when one is found: python3.10 on PATH if it runs, else pyenv's
# 3.10, else python3. Set PYTHON=... to choose (the venv is rebuilt when the interpreter changes).
# Recipes are silent (@) and installs go to stderr, so `make invoke | jq .` reads only the answer.
PYTHON ?= $(shell tools/python310.sh)
VENV ?= .venv
BIN := $(VENV)/bin
EVENT ?= events/apigw.json
PYVERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP := $(VENV)/.installed-$(PYVERSION)
# The fast suite in parallel, one worker more than cores (a part of it waits on sockets and timers); the
# slow one (timing across processes, installed tools) alone.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
# Bytecode and pytest's rewritten test modules are cached between runs (and in the processes tests start);
# a shell that sets PYTHONDONTWRITEBYTECODE would otherwise recompile ~400 modules on every run.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help venv test test-slow lint invoke serve call load backfill emulator old-cli bench package layer verify-package \
	deploy destroy rehearse clean

help:
	@echo "make invoke [EVENT=events/ckafka.json] [REAL=1]  run main_handler on a sample event against the embedded emulator"
	@echo "make test                                         the test suite (fast: seconds)"
	@echo "make test-slow                                    fleet limit at the API, deploy with the real tccli, the old SCF CLI"
	@echo "make lint                                         ruff and mypy"
	@echo "make bench                                        benchmarks against the emulator (writes bench/RESULTS.md)"
	@echo "make serve [PORT=8000]                            the function behind a local HTTP server (a Function URL)"
	@echo "make call URL=http://127.0.0.1:8000/ BODY='{...}'  sign (REPORT_SIGNING_SECRET) and post one request (or BODY_FILE=path)"
	@echo "make backfill FILE=conversions.csv [ARGS=...]    report missed conversions (CSV, JSON Lines, or --from-logs)"
	@echo "make load URL=https://... N=1000 RPS=50           send N signed conversions at RPS (to check the sizing)"
	@echo "make emulator [PORT=9000]                         serve the SMS API emulator on 127.0.0.1"
	@echo "make old-cli                                      files for the old SCF CLI's scf native invoke (build/old-cli/)"
	@echo "make package                                      build dist/function.zip (and layer.zip, code.zip) with Python 3.10"
	@echo "make verify-package                               prove the zip on Python 3.10, read-only, with bytecode"
	@echo "make deploy [DRY_RUN=1] [UNSET=NAME,...]          create or update everything on Tencent Cloud with tccli"
	@echo "make destroy [DRY_RUN=1]                          remove what deploy created, and nothing else"
	@echo "make rehearse [STACK=name] [ZIP=path]             deploy, redeploy and destroy with tccli against a local stand-in"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -n "$(PYVERSION)" || { echo "make: $(PYTHON) does not run; set PYTHON=/path/to/python3.10" >&2; exit 2; }
	@echo "# creating $(VENV) with $(PYTHON) (Python $(PYVERSION))" >&2
	@$(PYTHON) -m venv --clear $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . >&2
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	@$(BIN)/python -m pytest -m "not slow" -n $(PYTEST_WORKERS) --dist worksteal \
		-p no:schemathesis --ignore tests/local/test_contract_served.py $(PYTEST_ARGS)

test-slow: $(STAMP)
	@$(BIN)/python -m pytest -m slow -p no:xdist $(PYTEST_ARGS)

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

# make turns any failure into exit status 2; `.venv/bin/python -m local.invoke EVENT` keeps the
# runner's own statuses (README.md#two-commands).
invoke: $(STAMP)
	@$(BIN)/python -m local.invoke $(EVENT) $(if $(REAL),--real,)

serve: $(STAMP)
	@$(BIN)/python -m local.serve $(if $(PORT),--port $(PORT),) $(if $(REAL),--real,)

# BODY reaches the program through the environment, never through the shell's quoting: any byte is safe.
call: $(STAMP)
	@$(BIN)/python -m local.call "$$CALL_URL" $(if $(BODY_FILE),--body-file "$$CALL_BODY_FILE",$(if $(BODY),"$$CALL_BODY",))
call: export CALL_URL = $(value URL)
call: export CALL_BODY = $(value BODY)
call: export CALL_BODY_FILE = $(value BODY_FILE)

# N signed conversions at RPS through a Function URL: what the sizing table is checked with (docs/sizing.md#checking-it-on-your-account).
load: $(STAMP)
	@$(BIN)/python -m local.load "$$LOAD_URL" -n $(or $(N),100) --rps $(or $(RPS),10)
load: export LOAD_URL = $(value URL)

backfill: $(STAMP)
	@$(BIN)/python -m local.backfill '$(FILE)' $(ARGS)

emulator: $(STAMP)
	@$(BIN)/python -m emulator --port $(or $(PORT),9000)

old-cli: $(STAMP)
	@$(BIN)/python -m local.old_cli $(if $(PORT),--endpoint http://127.0.0.1:$(PORT),)

bench: $(STAMP)
	@$(BIN)/python -m bench

# The package is resolved and compiled by Python 3.10, SCF's runtime (PYTHON310, python3.10 or pyenv's):
# dist/function.zip (code + dependencies), dist/layer.zip + dist/code.zip for users of layers.
package: $(STAMP)
	@$(BIN)/python -m tools.package build

layer: package

# Unzip read-only, serve every sample event (and one with Redis) on Python 3.10 -I -B, check that
# nothing compiles from source, measure cold start with and without bytecode (build/verify.md).
verify-package: package
	@$(BIN)/python -m tools.package verify

# Create or update: reads what exists, creates what is missing, updates what differs (tools/deploy/). The
# package is built by the run itself once the plan has passed its checks; a dry run never builds it.
deploy: $(STAMP)
	@$(BIN)/python -m tools.deploy apply $(if $(DRY_RUN),--dry-run,) $(if $(UNSET),--unset '$(UNSET)',)

destroy: $(STAMP)
	@$(BIN)/python -m tools.deploy destroy $(if $(DRY_RUN),--dry-run,)

# Deploy, deploy again (which must change nothing) and destroy, with the real tccli against the local stand-in of
# the control plane: every call in build/rehearse/calls.jsonl (docs/deploy.md#rehearse).
rehearse: $(STAMP)
	@$(BIN)/python -m tools.rehearse $(if $(ZIP),--zip '$(ZIP)',)

clean:
	rm -rf .venv .venv-* build dist .pytest_cache .mypy_cache .ruff_cache

# One command each; CI (.ci/run) calls `make test` verbatim.
.PHONY: install demo test check unit e2e cli-tier capture-cli-tier bench schema ci-examples

install:
	scripts/install.sh

# The main job: a local cluster in a box, an example applied to it, measured RTTs, teardown.
demo: install
	scripts/demo.sh

# Everything the tests need, then the whole suite (unit, golden, CLI, e2e on the testbed).
test: install
	scripts/build-uml-kernel.sh >/dev/null
	$(MAKE) check
	$(MAKE) unit
	$(MAKE) e2e

check:
	ruff check oar_p2p tests
	ruff format --check oar_p2p tests
	mypy
	lint-imports

# two workers stealing each other's queued tests (the property tests are few and long):
# 3.5 min where one process took 4.2 (2 cores)
unit:
	python3 -m pytest -q -m "not e2e" -n 2 --dist worksteal

# Each pytest-xdist worker boots its own private testbed and takes whole modules
# (OAR_P2P_E2E_WORKERS=1: one testbed, modules one after another).
E2E_WORKERS ?= $(or $(OAR_P2P_E2E_WORKERS),2)
e2e:
	python3 -m pytest -q -m e2e -n $(E2E_WORKERS) --dist loadfile --durations=20

# Every verb through the CLI against replayed machines, scripts compared with goldens (part
# of `unit`); OAR_P2P_UPDATE_GOLDEN=1 rewrites tests/cli_tier/golden/ (review the diff).
cli-tier:
	python3 -m pytest -q tests/cli_tier

# Refresh the machine answers that tier replays, on a private testbed (root, ~4 min).
capture-cli-tier:
	python3 scripts/capture-cli-tier.py

schema:
	python3 -m oar_p2p.spec.schema

# examples/ci/ is a copy of the CI recipes `oar-p2p init` writes (a test compares the bytes)
ci-examples:
	cp oar_p2p/data/init/github-actions.yml oar_p2p/data/init/gitlab-ci.yml examples/ci/

bench: install
	python3 benchmarks/run.py

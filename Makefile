# One command each; CI (.ci/run) calls `make test` verbatim.
.PHONY: install demo test check unit e2e bench schema

install:
	scripts/install.sh

# The main job: a local cluster in a box, an example applied to it, measured RTTs, teardown.
demo: install
	scripts/demo.sh

# Everything the tests need, then the whole suite (unit, golden, CLI, e2e on the testbed).
test: install
	scripts/build-uml-kernel.sh >/dev/null
	$(MAKE) check
	python3 -m pytest -q

check:
	ruff check oar_p2p tests
	ruff format --check oar_p2p tests
	mypy
	lint-imports

unit:
	python3 -m pytest -q -m "not e2e"

e2e:
	python3 -m pytest -q -m e2e

schema:
	python3 -m oar_p2p.spec.schema

bench: install
	python3 benchmarks/run.py

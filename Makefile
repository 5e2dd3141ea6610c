# Developer conveniences; README's two commands (scripts/lab, scripts/test) need no make.
PY := .venv/bin/python

.PHONY: setup build annotate test test-unit test-priv lab bench-datapath clean

setup:
	./scripts/setup.sh

build:
	$(PY) setup.py -q build_ext --inplace

# cython -a: the per-packet functions must show no Python interaction (see
# tests/unit/test_hotpath.py, which checks the generated C).
annotate:
	XDPFW_ANNOTATE=1 $(PY) setup.py -q build_ext --inplace
	@echo "open xdpfw/_fast/*.html"

test:
	./scripts/test

test-unit:
	$(PY) -m pytest -q tests/unit

test-priv:
	$(PY) -m pytest -q tests/priv

lab:
	./scripts/lab

bench-datapath:
	$(PY) -m bench.datapath

clean:
	rm -rf build xdpfw/_fast/*.c xdpfw/_fast/*.so xdpfw/_fast/*.html

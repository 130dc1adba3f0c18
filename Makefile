# Every target does its own set-up on a fresh machine: it creates .venv, installs the pinned torch
# (constraints.txt) first, then the package with its test extras.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: test test-all lint docs demo bench quality realdata sbi-bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt torch
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check src tests examples bench docs/hooks
	$(VENV)/bin/lint-imports
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	$(PY) -m pytest -q -m "not slow"

# The documentation site (mkdocs.yml, docs/) into build/site, in strict mode: a broken reference or page fails.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

test-all: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check src tests examples bench docs/hooks
	$(VENV)/bin/lint-imports

demo: $(STAMP)
	$(VENV)/bin/scorematch demo --out demo

# The benchmark has its own environment: the pinned torch first, then scorematch, then the pinned peers
# (bench/requirements.txt), all under constraints.txt so that nothing can replace the CPU torch.
$(BENCH_STAMP): pyproject.toml constraints.txt bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -c constraints.txt torch
	$(BENCH_VENV)/bin/python -m pip install --quiet -c constraints.txt -e . -r bench/requirements.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/check_peers.py
	$(BENCH_VENV)/bin/python bench/run.py --out BENCHMARKS.md
	$(BENCH_VENV)/bin/python bench/diffusion_cost.py --out docs/diffusion_cost.md

# Simulation-based inference against sbi 0.27 (NPE, NPSE, FMPE) on the five benchmark tasks at 10^4 simulations,
# observations 1-5, and 10 iid observations (docs/sbi_bench.md; resumable: rows accumulate in bench/sbi_bench.json;
# about 2 hours on 2 cores).
sbi-bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/sbi_bench.py --observations 1-5 --iid 10 --out docs/sbi_bench.md


# How well each objective fits, judged by exact scores, against the peers' own trainers (about 80 min on 2 cores).
quality: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/quality.py --before --variants "init=variance;depth=3;lr=0.002" \
		--variant-objectives esm --out QUALITY.md --json bench/quality.json

# The command line's defaults on real tables (R's, statsmodels', scikit-learn's) against scikit-learn's density
# estimators: held-out log-likelihood, anomaly AUC, seconds; three seeds each.
realdata: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/realdata.py --out docs/realdata.md --json bench/realdata.json

clean:
	rm -rf $(VENV) $(BENCH_VENV) build src/*.egg-info .pytest_cache .ruff_cache

# The README's two commands: `make demo` and `make test`. Both install into .venv first, idempotently.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test test-transformers5 docs outputs lab bench install

install: $(STAMP)

$(STAMP): settings.ini setup.py $(PLUGINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]" $(foreach p,$(PLUGINS),-e $(dir $(p))) "transformers>=4.57.6,<5"
	touch $@

demo: $(STAMP)
	$(BIN)/shoptasks demo

# nbdev_test runs the library's notebooks; the tutorial runs in JupyterLab, in a browser (tests/test_browser.py).
test: $(STAMP)
	$(BIN)/nbdev_export
	@test -z "$$(git status --porcelain -- shoptasks)" || { echo "nbdev_export changed shoptasks/: export the notebooks and commit"; git status --porcelain -- shoptasks; exit 1; }
	$(BIN)/nbdev_test --n_workers 2 --skip_folder_re '^[_.]|^tutorials$$'
	$(BIN)/python -m pytest -q -n auto --dist loadscope --durations=10 tests

# The other line of transformers (5.x; `make test` runs 4.x) in a virtual environment of its own: the notebooks, and
# the tests that build, train, resume, save, load, generate with and serve models.
TF5 := .venv-transformers5
test-transformers5:
	test -x $(TF5)/bin/python || $(PYTHON) -m venv $(TF5)
	$(TF5)/bin/python -m pip install -q torch==2.13.0
	$(TF5)/bin/python -m pip install -q -e ".[dev]" $(foreach p,$(PLUGINS),-e $(dir $(p))) "transformers>=5,<6"
	$(TF5)/bin/nbdev_test --n_workers 2 --skip_folder_re '^[_.]|^tutorials$$'
	$(TF5)/bin/python -m pytest -q -p no:cacheprovider tests/test_cli.py tests/test_tasks.py tests/test_generation.py \
		tests/test_ranking.py tests/test_serve.py tests/test_resume.py tests/test_predict_stream.py tests/test_faults.py

# nbdev_docs needs Quarto; where it is missing, docs/build.py renders the executed notebooks offline into docs/_site.
docs: $(STAMP)
	if command -v quarto >/dev/null; then $(BIN)/nbdev_docs; else $(BIN)/python docs/build.py; fi
	$(BIN)/jupyter nbconvert --to markdown --output-dir . --output README nbs/index.ipynb

# The notebooks' small, deterministic outputs, saved for readers on GitHub (docs/save_outputs.py says which).
outputs: $(STAMP)
	$(BIN)/python docs/save_outputs.py

# JupyterLab on the notebooks (the same kernel and packages as .venv); it prints the URL with its token.
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=nbs

bench: $(STAMP)
	$(BIN)/python benchmarks/pretrain_reviews.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/classification.py

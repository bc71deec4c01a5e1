# `make demo` and `make test` are the README's two commands: each does all set-up first.
.PHONY: setup setup-dev demo lint test bench

.venv/.stamp: pyproject.toml .ci/setup
	bash .ci/setup
	touch $@

.venv/.stamp-dev: pyproject.toml .ci/setup
	bash .ci/setup --dev
	touch .venv/.stamp $@

setup: .venv/.stamp
setup-dev: .venv/.stamp-dev

demo: setup
	.venv/bin/fincopilot demo

lint: setup-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

test: setup-dev lint
	.venv/bin/pytest

bench: setup-dev
	.venv/bin/python -m bench

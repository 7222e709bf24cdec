.PHONY: demo test bench

demo:  ## run host_demo with the plugin (SQLite + Stripe emulator)
	bash scripts/demo.sh

test:  ## the whole test suite (SQLite, PostgreSQL, Chromium)
	bash scripts/test.sh

bench:  ## benchmarks (not part of the test run; needs Debian's postgresql for the PostgreSQL figures)
	bash scripts/venv.sh bench
	.venv/bin/python -m benchmarks

"""Benchmarks for invoicing_plugin: ``python -m benchmarks`` (or ``make bench``).

Not part of the test run. Builds its own data on a throwaway SQLite file and a
throwaway PostgreSQL cluster (``tests/support/postgres.py``), measures, and prints
one Markdown table to stdout (progress goes to stderr). See ``docs/benchmarks.md``.
"""

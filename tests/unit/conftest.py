"""Unit tests: the pure domain, no I/O.

Hypothesis keeps no example database, so a failure found once is not silently
replayed from disk (it still caches Unicode tables in a self-ignoring
``.hypothesis/``), and has no deadline, so a slow CI machine cannot turn a pass into
a flake.
"""

from hypothesis import settings

settings.register_profile("unit", database=None, deadline=None, max_examples=200)
settings.load_profile("unit")

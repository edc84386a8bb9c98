"""The ledger suite: thousands of signed events under combined faults, then one ledger line.

``python -m bench.chaos --events 10000`` (see ``__main__``); the reduced run in CI is
``tests/e2e/test_ledger_reduced.py``.
"""

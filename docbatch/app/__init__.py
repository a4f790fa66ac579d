"""The use cases: the only API that cli/ (and later server/ and the broker worker) call.

- runs.py: start a run and get a RunHandle at once (its run id, live tally, stop, cancel, wait);
- status.py: a run's status as a typed model, read from the ledger by any process;
- retry.py: plan a retry of a run's failed and dead documents and start it as a linked run;
- notify.py: tell the outside world a run ended (webhook, completion command).

Each module is imported on its own: importing this package loads nothing heavy (`docbatch --help`).
"""

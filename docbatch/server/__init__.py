"""`docbatch serve`: the engine as an HTTP service (routes over app/, events from the ledger's event
sequence, a dashboard). Only this package imports the web libraries (the `serve` extra)."""

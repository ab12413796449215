"""Handler adapters: one per Lambda entry point in app.py. Each takes the event, builds its
domain object from this container's `Services` (hubspot_app.runtime) and calls it.

A module per function (or per route group): app.py imports one inside the handler body, so a
cold start loads only its own function's code; each adapter imports its domain modules at
the top, which is what tests/integration/deploy/test_lazy_imports.py measures."""

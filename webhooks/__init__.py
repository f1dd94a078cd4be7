"""``vh webhooks``: the enriched stream (``visits.enriched``) POSTed to each tenant's
registered endpoints, signed as Fingerprint signs its webhooks, at least once.

Pure policies in the middle (``signing``, ``schedule``, ``targets``, ``offsets``,
``endpoints``' model), I/O at the edges, one module per external library (``http``: httpx,
``stream``: kafka-python, ``store``: clickhouse-driver, ``metrics``: prometheus-client).
Imports ``schemas`` only (``tests/test_repository.py``); docs/webhooks.md.
"""

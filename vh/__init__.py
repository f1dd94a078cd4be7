"""The ``vh`` command: every command a user of the pipeline runs, one subcommand each.

The package sits above the pipeline's stages (it imports ``ingest``, ``query_api``,
``deploy``; none of them imports it) and holds the tools that are not the worker: the demo
traffic source, dead-letter replay, progress bars.
"""

"""Message contracts of the Residency bus: one module per topic, and the registry of topics.

Every message is a frozen pydantic model with ``extra="forbid"`` and a description on every
field. Changes are additive only; a breaking change becomes a new ``...v2`` topic beside the old
one. ``tests/contract`` holds a JSON Schema snapshot per message model and fails on anything else.
"""

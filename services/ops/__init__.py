"""Operator tools (documents, dead-letter inspection and replay): they may import any service,
which the services' shared runtime (services/runtime) never does."""

"""Retrieval ("on your data"): grounds a chat request on the customer's own MongoDB collection.

The request names a data connection of its resource; retrieval reads it (sealed credentials
included) from the region's control-plane store, checks its endpoint again (DNS may have
changed since registration), and reads the collection within stated limits: a deadline per
request, server-selection, socket and ``maxTimeMS`` limits, a cap on each document's size and
on the bytes read per request. Documents are read at request time and never copied into the
platform: only their IDs travel on to retention; their text reaches the prompt and the caller's
citations (after the prompt passed screening), nothing else.

Exceptions (a customer-side failure is told to the caller as a 400, never retried)::

    Exception
    ├── RetrievalError
    │   ├── DataSourceUnavailable   the customer's store cannot be reached or read
    │   ├── CredentialsUnreadable   the connection's sealed credentials do not open (503)
    │   └── QueryEmbeddingFailed    the embedding deployment did not embed the search queries
    └── services.connections.errors.ConnectionRefused   the endpoint fails the policy at connect time
"""

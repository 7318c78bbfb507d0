"""Retrieval ("on your data"): grounds a chat request on the customer's own MongoDB collection.

Documents are read at request time and never copied into the platform: only their IDs travel
on to retention; their text reaches the prompt and the caller's citations, nothing else.

Exceptions::

    Exception
    └── RetrievalError
        └── DataSourceUnavailable   the customer's store cannot be reached or read (400 to the caller)
"""

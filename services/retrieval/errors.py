"""Retrieval exceptions (tree in services/retrieval/__init__.py)."""


class RetrievalError(Exception):
    """Base of the retrieval service's own errors."""


class DataSourceUnavailable(RetrievalError):
    """The customer's data source refused or did not answer; the caller is told, nothing is retried."""


class CredentialsUnreadable(RetrievalError):
    """The connection's sealed credentials do not open here (no or another connections key)."""


class QueryEmbeddingFailed(RetrievalError):
    """The embedding deployment could not embed the search queries (its error is the caller's)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

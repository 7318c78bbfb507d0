"""Inference exceptions (tree in services/inference/__init__.py)."""


class InferenceError(Exception):
    """Base of the inference service's own errors."""


class InvalidGenerationRequest(InferenceError):
    """The engine cannot run this request as asked; the caller gets a 400 naming ``param``."""

    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class EngineUnavailable(InferenceError):
    """The engine failed while running the request; it is being restarted (503 to the caller)."""


class EngineStarting(EngineUnavailable):
    """The engine this request needs is still being built (an adapter engine, on first use); the caller
    gets a 503 with ``Retry-After``, and the build goes on."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

"""Gateway exceptions (tree in services/gateway/__init__.py); each renders as an OpenAI error."""

from __future__ import annotations

from contracts.common import ApiError

AZURE_ACCESS_DENIED = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                       "to provide a valid key for an active subscription and use a correct regional "
                       "API endpoint for your resource.")


class GatewayError(Exception):
    status = 500
    type: str | None = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.code
        self.headers = headers or {}

    def as_api_error(self) -> ApiError:
        return ApiError(status=self.status, message=self.message, type=self.type, code=self.code, param=self.param)


class AuthenticationFailed(GatewayError):
    status, type, code = 401, "invalid_request_error", "401"

    def __init__(self) -> None:
        super().__init__(AZURE_ACCESS_DENIED)


class NotFound(GatewayError):
    status, type, code = 404, "invalid_request_error", "DeploymentNotFound"


class InvalidRequest(GatewayError):
    status, type, code = 400, "invalid_request_error", "invalid_request"


class PayloadTooLarge(GatewayError):
    status, type, code = 413, "invalid_request_error", "request_too_large"


class UpstreamTimeout(GatewayError):
    status, type, code = 504, "timeout", "timeout"

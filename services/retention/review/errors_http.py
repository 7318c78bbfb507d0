"""How refusals look over HTTP: ``{"error": {"code": <reason>, "message": ...}}`` with a status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure

from services.retention.errors import AccessRefused, AuditUnavailable

STATUS = {
    "unauthenticated": 401, "not_found": 404, "no_content": 404, "record_expired": 410,
    "already_decided": 409, "unreadable_record": 422, "retention_out_of_range": 400,
}
MESSAGES = {
    "unregistered_workstation": "This client certificate is not a registered review workstation.",
    "unauthenticated": "Missing or unknown credential.",
    "wrong_role": "Your role does not allow this.",
    "not_found": "No such record or grant in this region.",
    "not_flagged": "Only flagged records can be reviewed.",
    "record_expired": "The record's retention window has ended.",
    "no_content": "No content is stored for this record.",
    "location_not_eea": "Records of this region can only be reviewed from the EEA.",
    "no_grant": "Reading a record needs an approved grant (x-review-grant header).",
    "grant_other_record": "The grant is for another record.",
    "grant_other_reviewer": "The grant was asked for by another reviewer.",
    "grant_not_approved": "The grant has not been approved.",
    "grant_expired": "The grant has expired.",
    "self_approval": "A grant must be approved by someone other than the reviewer who asked.",
    "already_decided": "The grant was already decided.",
    "unreadable_record": "The record failed to decrypt (altered, moved or shredded); it is reported, not served.",
    "retention_out_of_range": "Retention must be between 1 day and the service's maximum.",
}


def error_response(code: str, status: int | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": MESSAGES.get(code, code)}},
                        status_code=status or STATUS.get(code, 403))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AccessRefused)
    async def refused(request: Request, error: AccessRefused) -> JSONResponse:
        return error_response(error.reason)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response("invalid_request", 400)

    @app.exception_handler(AuditUnavailable)
    @app.exception_handler(ConnectionFailure)
    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        # An access that cannot be audited is not performed.
        return error_response("service_unavailable", 503)

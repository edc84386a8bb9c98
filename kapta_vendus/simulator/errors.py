"""API errors in the shape Vendus uses: ``{"errors": [{"code": "P001", "message": "…"}]}``.

Validation failures are 403/P001 on the real API (not 422); the app can remap that status through
``SimulatorAssumptions.validation_status``.
"""

from __future__ import annotations

INVALID_PREFIX = "Parâmetro inválido ou mal preenchido"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict:
        return {"errors": [{"code": self.code, "message": self.message}]}


def invalid(field: str, detail: str | None = None) -> ApiError:
    """A 403 P001 naming the offending parameter, optionally with a human explanation."""
    message = f"{INVALID_PREFIX}: {field}"
    if detail:
        message = f"{message}. {detail}"
    return ApiError(403, "P001", message)


def no_data(message: str = "No data") -> ApiError:
    return ApiError(404, "A001", message)


def a001(message: str, status: int = 403) -> ApiError:
    return ApiError(status, "A001", message)

"""JSON answers, and the one place where errors become HTTP statuses."""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Response

from perfguard import errors

log = logging.getLogger(__name__)

_STATUS: dict[type[errors.PerfguardError], int] = {
    errors.PayloadTooLarge: 413,
    errors.InvalidRequest: 400,
    errors.AuthenticationError: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.WarehouseError: 503,
    errors.BusError: 503,
    errors.DeliveryError: 503,
    errors.ConfigError: 500,
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response; NaN and infinities become null, which JSON cannot carry."""
    text = json.dumps(_finite(body), separators=(",", ":"), default=str)
    return Response(text, status=status, headers=headers, content_type="application/json")


def error_response(exc: errors.PerfguardError) -> Response:
    """`{"error": {"code", "message"}}` with the status of the most specific error class."""
    status = next((code for cls in type(exc).__mro__ if (code := _STATUS.get(cls)) is not None), 500)
    headers = {"WWW-Authenticate": 'Bearer realm="perfguard"'} if status == 401 else None
    return json_response({"error": {"code": exc.code, "message": str(exc)}}, status, headers)


def handle_errors(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Turn perfguard errors into JSON answers and anything unexpected into a logged 500."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return handler(*args, **kwargs)
        except errors.PerfguardError as exc:
            if isinstance(exc, (errors.WarehouseError, errors.BusError, errors.ConfigError)):
                log.error("%s failed: %s", handler.__name__, exc)
            return error_response(exc)
        except Exception:
            log.exception("%s failed unexpectedly", handler.__name__)
            body = {"error": {"code": "internal", "message": "internal error; the details are in the server log"}}
            return json_response(body, 500)

    return wrapper


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value

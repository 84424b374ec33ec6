"""The errors perfguard raises. Domain errors carry no HTTP; `perfguard.api.responses` maps them.

* PerfguardError
  + ConfigError          the settings, a schema or the topology file is invalid (at start)
  + InvalidRequest       a request that can never succeed as sent (HTTP 400)
    - ValidationError    one record or parameter is invalid; the message says which and why
    - PayloadTooLarge    the body or the batch exceeds a limit (HTTP 413)
  + AuthenticationError  no key, or a key we do not know (HTTP 401)
  + PermissionDenied     the key is valid but lacks the scope (HTTP 403)
  + NotFound             no such function or object (HTTP 404)
  + WarehouseError       the warehouse failed; the request may be retried (HTTP 503)
  + BusError             a message could not be published (HTTP 503)
  + DeliveryError        a notification channel failed after its retries (HTTP 503; the bus redelivers)
"""

from __future__ import annotations


class PerfguardError(Exception):
    """Base of every error perfguard raises on purpose."""

    code = "internal"


class ConfigError(PerfguardError):
    """Invalid settings, schema or topology; raised at start, never mid-request."""

    code = "config_error"


class InvalidRequest(PerfguardError):
    """A request that can never succeed as sent."""

    code = "invalid_request"


class ValidationError(InvalidRequest):
    """One record or parameter is invalid."""

    code = "validation_error"


class PayloadTooLarge(InvalidRequest):
    """The body or the batch exceeds a limit."""

    code = "payload_too_large"


class AuthenticationError(PerfguardError):
    """No API key, or one we do not know."""

    code = "unauthenticated"


class PermissionDenied(PerfguardError):
    """The API key lacks the scope the function needs."""

    code = "permission_denied"


class NotFound(PerfguardError):
    """No such function or object."""

    code = "not_found"


class WarehouseError(PerfguardError):
    """The warehouse failed; retrying may succeed."""

    code = "warehouse_unavailable"


class BusError(PerfguardError):
    """A message could not be published."""

    code = "bus_unavailable"


class DeliveryError(PerfguardError):
    """A notification channel failed after its retries; raising it makes the bus deliver the event again."""

    code = "delivery_failed"

"""Remove user data and secrets from free text (endpoint names, tag values) before it is stored.

Metrics must never leak user data: a URL that carries an email, an IP address, a bearer token, an API key
or a user's principal is stored with that part replaced by a placeholder. Canister ids (27 characters)
are kept: they name our own services, not people.
"""

from __future__ import annotations

import functools
import ipaddress
import re

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_SECRET_PARAM = re.compile(
    r"(?i)\b(access_token|refresh_token|id_token|api_key|apikey|key|token|secret|password|passwd|pwd|auth|"
    r"signature|sig|session|code)=([^&\s#]+)"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A self-authenticating (user) principal has 10 groups of 5 and one of 3; canister ids have 4 and one of 3.
_USER_PRINCIPAL = re.compile(r"\b[a-z2-7]{5}(?:-[a-z2-7]{5}){5,}(?:-[a-z2-7]{1,5})?\b")
_IPV4 = re.compile(r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_LONG_HEX = re.compile(r"\b(?:0x)?[0-9a-fA-F]{32,}\b")
_LONG_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}(?![A-Za-z0-9+/_-])")


@functools.lru_cache(maxsize=65_536)  # endpoint names and tag values repeat: most calls are hits
def scrub(text: str) -> str:
    """Return `text` with emails, IPs, tokens, secrets and user principals replaced.

    >>> scrub("GET /users/ann@example.com/orders?token=abc123&page=2 from 10.1.2.3")
    'GET /users/[email]/orders?token=[redacted]&page=2 from [ip]'
    """
    text = _JWT.sub("[token]", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} [token]", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=[redacted]", text)
    text = _EMAIL.sub("[email]", text)
    text = _USER_PRINCIPAL.sub("[principal]", text)
    text = _IPV4.sub("[ip]", text)
    text = _IPV6_CANDIDATE.sub(_replace_ipv6, text)
    text = _LONG_HEX.sub("[secret]", text)
    return _LONG_BASE64.sub(_replace_base64, text)


def _replace_ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0))
    except ValueError:
        return match.group(0)
    return "[ip]"


def _replace_base64(match: re.Match[str]) -> str:
    # Long names ("get_listing_details_for_marketplace_v2", "getListingDetailsForMarketplaceV2") are not
    # secrets: a secret mixes digits, upper and lower case, and changes character class often (random
    # base64 changes class at about 6 of 10 characters, a camelCase name at about 2).
    token = match.group(0)
    has_digit = any(c.isdigit() for c in token)
    has_upper = any(c.isupper() for c in token)
    has_lower = any(c.islower() for c in token)
    return "[secret]" if has_digit and has_upper and has_lower and _class_changes(token) * 3 >= len(token) else token


def _class_changes(token: str) -> int:
    classes = ["d" if c.isdigit() else "u" if c.isupper() else "l" if c.islower() else "s" for c in token]
    return sum(1 for a, b in zip(classes, classes[1:], strict=False) if a != b)

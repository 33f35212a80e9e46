"""Bearer-token API keys: compared by their sha256 digest in constant time."""

from __future__ import annotations

import hashlib
import hmac
from typing import Sequence

from .settings import ApiKey


class AuthError(Exception):
    """401 (no or unknown key) or 403 (key without the scope)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


ANONYMOUS = ApiKey(name="anonymous", sha256="0" * 64, scopes=("ask", "ingest"))


def authenticate(authorization: str | None, keys: Sequence[ApiKey], scope: str) -> ApiKey:
    """The key that ``authorization`` ("Bearer KEY") carries, checked for ``scope``.

    With no keys configured every request is let through as ``anonymous``.
    """
    if not keys:
        return ANONYMOUS
    if not authorization:
        raise AuthError(401, "unauthorized", "missing API key: send the header 'Authorization: Bearer <key>'")
    kind, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if kind.lower() != "bearer" or not token:
        raise AuthError(401, "unauthorized", "malformed Authorization header: expected 'Bearer <key>'")
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    found = None
    for k in keys:  # compare against every key so timing does not tell which one matched
        if hmac.compare_digest(digest, k.sha256):
            found = k
    if found is None:
        raise AuthError(401, "unauthorized", "unknown API key")
    if scope not in found.scopes:
        raise AuthError(403, "forbidden", f"API key {found.name!r} lacks the {scope!r} scope (it has: {', '.join(found.scopes)})")
    return found

"""Bearer-token API keys: compared by their sha256 digest in constant time.

The digest is taken over the bytes the client sent (HTTP header values reach the app decoded as
latin-1; encoding them back to latin-1 gives those bytes), so a key hashed as UTF-8 by
``hash_key`` matches whatever a client sends for it; ``hash_key`` accepts ASCII keys only, which
every HTTP client sends the same way."""

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


ANONYMOUS = ApiKey(name="anonymous", sha256="0" * 64, scopes=("ask", "ingest", "read"))


def authenticate(authorization: str | None, keys: Sequence[ApiKey], scope: str | None) -> ApiKey:
    """The key that ``authorization`` ("Bearer KEY") carries, checked for ``scope`` (None: any
    configured key will do).

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
    try:
        raw = token.encode("latin-1")  # the header's bytes as sent
    except UnicodeEncodeError:  # not from an HTTP header (a caller passing text): its UTF-8
        raw = token.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(raw).hexdigest()
    found = None
    for k in keys:  # compare against every key so timing does not tell which one matched
        if hmac.compare_digest(digest, k.sha256):
            found = k
    if found is None:
        raise AuthError(401, "unauthorized", "unknown API key")
    if scope is not None and scope not in found.scopes:
        raise AuthError(403, "forbidden", f"API key {found.name!r} lacks the {scope!r} scope (it has: {', '.join(found.scopes)})")
    return found

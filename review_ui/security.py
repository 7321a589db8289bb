"""Passwords, CSRF tokens and response headers for the review UI."""

from __future__ import annotations

import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Argon2id (memory-hard). Parameters: RFC 9106's second recommended option, scaled for a 2-core server.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)

# Crawled content is hostile: no inline script, no foreign origins, no framing of the app.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; frame-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a, b)


def csp_framing(origin: str) -> str:
    """The app's CSP for a page that embeds the replay origin in a sandboxed frame (and nothing else)."""
    return CSP.replace("frame-src 'none'", f"frame-src {origin}")

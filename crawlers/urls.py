"""URL canonicalisation: one form per page, so the dupefilter and the store agree."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Query parameters that track the visitor, not select the content.
TRACKING_PARAMS = frozenset({
    "spm", "scm", "pvid", "from", "share_from", "share_token", "shareid", "sharer", "fbclid", "gclid",
    "msclkid", "yclid", "_hsenc", "_hsmi", "mc_cid", "mc_eid", "ref", "ref_src", "track_id", "trackid",
    "sessionid", "sid", "phpsessid", "jsessionid", "aspsessionid",
})


def canonical(url: str) -> str:
    """Canonical form: lower-case scheme and host, default port dropped, query sorted, tracking
    parameters (utm_*, spm, …) and the fragment removed (w3lib's canonicalize_url underneath)."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS]
    netloc = parts.netloc.lower()
    if (parts.scheme == "http" and netloc.endswith(":80")) or (parts.scheme == "https" and netloc.endswith(":443")):
        netloc = netloc.rsplit(":", 1)[0]
    rebuilt = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(rebuilt, keep_fragments=False)


def site_of(url: str) -> str:
    """The site a per-site cap applies to: host[:port]."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def sample_key(seed: int, url: str) -> str:
    """A keyed hash of a canonical URL: the detail pages with the smallest keys form the sample,
    so the same seed over the same site selects the same pages whatever the crawl order."""
    return hashlib.sha256(f"{seed}:{canonical(url)}".encode()).hexdigest()

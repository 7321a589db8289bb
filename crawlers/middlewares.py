"""Downloader middlewares."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest


@lru_cache(maxsize=4096)
def _addresses(host: str) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return ()
    return tuple(sorted({info[4][0] for info in infos}))


def is_private_host(host: str) -> bool:
    """True when `host` is or resolves to a private, loopback, link-local or reserved address."""
    for addr in _addresses(host.strip("[]")):
        ip = ipaddress.ip_address(addr.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
            return True
    return False


class PrivateAddressGuard:
    """Refuse requests (links and redirects alike) to private, loopback or link-local addresses.

    Hosts listed in FANGXIN_ALLOW_PRIVATE_HOSTS pass: the sandbox plans list
    127.0.0.1, and hosts of URLs an operator passes with `--url` are added.
    """

    def __init__(self, allowed: list[str], stats=None):
        self.allowed = {h.lower() for h in allowed}
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getlist("FANGXIN_ALLOW_PRIVATE_HOSTS"), crawler.stats)

    def process_request(self, request, spider=None):
        host = (urlsplit(request.url).hostname or "").lower()
        if host in self.allowed:
            return None
        if is_private_host(host):
            if self.stats:
                self.stats.inc_value("fangxin/refused_private")
            raise IgnoreRequest(f"refused private address: {host}")
        return None

"""Who is asking: visitors' daily pseudonyms, the proxies whose word about the client is believed,
and the per-visitor and per-address budgets of the collector's routes.

A visitor is an HMAC of IP and user agent under a key that changes every UTC day (random and in
memory only, or derived from a secret the collectors share), so neither is ever written anywhere.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable

__all__ = ["Proxies", "RateLimiter", "Visitors", "sender"]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Visitors:
    """Keyed hashes of IP + user agent (and of the IP alone); the key is new each UTC day.

    Without a `secret` the key is random and in memory only. Several collectors behind one proxy
    must agree on it (a visitor's follow-up may reach another instance than their vote): give them
    one secret, and each derives the day's key as HMAC(secret, day).
    """

    def __init__(self, clock: Callable[[], datetime] = _utc_now, secret: str | None = None) -> None:
        self._clock = clock
        self._secret = secret.encode("utf-8") if secret else None
        self._day: date | None = None
        self._key = b""

    def _today(self) -> bytes:
        today = self._clock().date()
        if today != self._day:
            if self._secret is None:
                key = secrets.token_bytes(32)
            else:
                key = hmac.new(self._secret, f"kb-visitors-{today.isoformat()}".encode(), hashlib.sha256).digest()
            self._day, self._key = today, key
        return self._key

    def hash(self, ip: str, user_agent: str) -> str:
        """The visitor's pseudonym for today (16 hex digits)."""
        digest = hmac.new(self._today(), f"{ip}\n{user_agent}".encode("utf-8", "replace"), hashlib.sha256)
        return digest.hexdigest()[:16]

    def address(self, ip: str) -> str:
        """The client address's pseudonym for today (16 hex digits; never the address itself): of
        its IPv4 address, or of its IPv6 address's /64 (see `sender`)."""
        digest = hmac.new(self._today(), f"address\n{sender(ip)}".encode("utf-8", "replace"), hashlib.sha256)
        return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def sender(ip: str) -> str:
    """What of a client address names one sender: an IPv4 address whole; of an IPv6 address its
    /64, which a network gives each home or phone whole, so that one customer may send from any of
    its 2**64 addresses (an IPv4 address written as IPv6, ::ffff:192.0.2.1, is that IPv4 address).
    Anything that is not an address is itself."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return f"{ipaddress.IPv6Network((address, 64), strict=False).network_address}/64"
    return str(address)


class Proxies:
    """Which peers are proxies whose X-Forwarded-* headers are believed (addresses or networks, or *)."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.any = False
        self.networks: list[Any] = []
        for item in allowed:
            for part in str(item).split(","):
                part = part.strip()
                if part == "*":
                    self.any = True
                elif part:
                    self.networks.append(ipaddress.ip_network(part, strict=False))

        # Every request asks about the same few peers (the proxies): remember the answers.
        self.trusted = functools.lru_cache(maxsize=4096)(self._trusted)

    def _trusted(self, ip: str) -> bool:
        if self.any:
            return True
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def peer(self, client: str, headers: dict[bytes, bytes], scheme: str) -> tuple[str, str, str | None]:
        """(client address, host, scheme or None when not told) of a request from `client`."""
        host = headers.get(b"host", b"").decode("latin-1")
        if not self.trusted(client):
            return client, host, None
        forwarded = headers.get(b"x-forwarded-for")
        if forwarded:
            hops = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
            # The nearest hop a trusted proxy did not add is the client (the rest can be forged).
            for hop in reversed(hops):
                client = hop
                if not self.trusted(hop):
                    break
        fwd_host = headers.get(b"x-forwarded-host")
        if fwd_host:
            host = fwd_host.decode("latin-1").split(",")[0].strip()
        proto = headers.get(b"x-forwarded-proto")
        told = proto.decode("latin-1").split(",")[0].strip().lower() if proto else None
        return client, host, told


class RateLimiter:
    """A token bucket per (route, visitor): `per_minute` requests, refilled evenly."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._swept = time.monotonic()

    def allow(self, kind: str, visitor: str) -> bool:
        """Take one token; False when the visitor has none left."""
        if self.per_minute <= 0:
            return True
        t = time.monotonic()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get((kind, visitor), (float(self.per_minute), t))
        tokens = min(float(self.per_minute), tokens + (t - last) * rate)
        allowed = tokens >= 1.0
        self._buckets[(kind, visitor)] = (tokens - 1.0 if allowed else tokens, t)
        if t - self._swept > 60:
            # Buckets idle for a minute are full again; forget them to bound memory.
            self._buckets = {k: v for k, v in self._buckets.items() if t - v[1] < 60}
            self._swept = t
        return allowed

    def exhausted(self, kind: str, key: str) -> bool:
        """True when `key` has no token left (none is taken)."""
        if self.per_minute <= 0:
            return False
        tokens, last = self._buckets.get((kind, key), (float(self.per_minute), time.monotonic()))
        return tokens + (time.monotonic() - last) * self.per_minute / 60.0 < 1.0

    def retry_after(self) -> int:
        """Seconds until one token is back."""
        return max(1, math.ceil(60 / self.per_minute)) if self.per_minute > 0 else 0

"""Headroom leases: a replica admits most requests of a busy key without a Redis round trip, and never past a limit.

When a key's limits are far away, the admit script may lend the replica a block of ``slots`` requests (added to
every rpm window at once) and ``slots x estimate`` USD (added to every budget counter at once), as if that many
requests had been admitted together. Requests with the same keys and limits then draw on the block locally, until
it is used up or ``lease_s`` has passed; whatever is left goes back to Redis with the replica's next call. Because
the block is counted in Redis before any of it is used, the guarantees of the exact path stand: an rpm window never
admits more than its limit, and committed spend never exceeds a budget by more than one reservation.

What leases cost:

- A lease only takes 1/``FRACTION`` of what is left under each limit, and none at all once fewer than ``FRACTION``
  requests (or ``FRACTION`` reservations) are left, so near a limit every request is checked exactly. Until a lease
  is used or returned, other replicas see that headroom as used: a limit can refuse early by at most the unused
  part of the replicas' blocks, for at most ``lease_s``.
- Tokens per minute are counted after the call, as on the exact path, but a lease is lent only while every tpm
  window is under half its limit, and its requests do not look at the tpm window again.
- A replica asks for a block only when its own recent rate for the key fills one within ``lease_s``; a quiet key
  is checked exactly on every request, so its blocks are never wasted.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

FRACTION = 8
"""A lease takes at most 1/FRACTION of the headroom left under each limit."""
MAX_SLOTS = 64
"""The most requests one lease covers."""


@dataclass(slots=True, eq=False)
class Lease:
    """Headroom lent to this replica: ``slots`` requests and ``budget`` USD, until ``expires`` (loop time)."""

    slots: int
    budget: float
    expires: float
    budget_keys: list[str]
    rpm_keys: list[str]
    rpm_expiry_ms: list[int]
    """Each rpm window's end (Redis server time, ms) when lent: slots go back only to the same window."""


@dataclass(slots=True)
class _Rate:
    since: float
    count: int = 0


@dataclass
class LeaseBook:
    """This replica's leases and request rates, by the tag of a request's keys and limits."""

    lease_s: float = 0.25
    """How long a lease lives; 0 turns leases off (every request checked in Redis)."""
    leases: dict[Hashable, Lease] = field(default_factory=dict)
    _rates: dict[Hashable, _Rate] = field(default_factory=dict)
    _asking: set[Hashable] = field(default_factory=set)

    def take(self, tag: Hashable, amount: float, now: float) -> bool:
        """Admit one request of ``amount`` USD from the tag's lease, if it has a slot and the budget for it."""
        lease = self.leases.get(tag)
        if lease is None or lease.slots < 1 or lease.budget < amount or now >= lease.expires:
            return False
        lease.slots -= 1
        lease.budget -= amount
        rate = self._rates.get(tag)
        if rate is not None:
            rate.count += 1
        return True

    def want(self, tag: Hashable, now: float) -> int:
        """Slots to ask for with this remote admit: the requests the tag's recent rate brings within ``lease_s``
        (0 for a first or quiet request, or while another request of the tag is asking). Restarts the rate
        measurement. A caller that got more than 0 calls :meth:`asked` when its answer is in."""
        if self.lease_s <= 0 or tag in self._asking:
            return 0
        rate = self._rates.get(tag)
        if rate is None:
            if len(self._rates) > 100_000:  # keys come and go: forget the rates, not the leases
                self._rates.clear()
            self._rates[tag] = _Rate(now, 1)
            return 0
        elapsed = now - rate.since
        want = 0 if elapsed <= 0 else int(rate.count / elapsed * self.lease_s)
        rate.since, rate.count = now, 1
        if want > 0:
            self._asking.add(tag)
        return min(want, MAX_SLOTS)

    def asked(self, tag: Hashable) -> None:
        self._asking.discard(tag)

    def pop(self, tag: Hashable, lease: Lease | None = None) -> Lease | None:
        """Remove and return the tag's lease (only if it is ``lease``, when given)."""
        current = self.leases.get(tag)
        if current is None or (lease is not None and current is not lease):
            return None
        del self.leases[tag]
        return current

    def put(self, tag: Hashable, lease: Lease) -> Lease | None:
        """Keep ``lease`` for the tag; returns the lease it replaces, if any (to be given back)."""
        old = self.leases.get(tag)
        self.leases[tag] = lease
        return old

    def pop_all(self) -> list[Lease]:
        leases, self.leases = list(self.leases.values()), {}
        return leases

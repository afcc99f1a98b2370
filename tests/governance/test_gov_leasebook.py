"""``LeaseBook``: when a replica asks for a lease, how much, and what a lease admits (no Redis needed)."""

from __future__ import annotations

from wayfare.governance.leases import MAX_SLOTS, Lease, LeaseBook


def _lease(slots: int, budget: float, expires: float) -> Lease:
    return Lease(slots, budget, expires, ["b"], ["r"], [0])


def test_a_quiet_key_never_asks_and_a_busy_one_asks_for_what_its_rate_fills() -> None:
    book = LeaseBook(lease_s=0.25)
    assert book.want("quiet", 0.0) == 0  # first request: no rate yet
    assert book.want("quiet", 2.0) == 0  # one request per 2 s fills nothing within 0.25 s
    assert book.want("busy", 0.0) == 0
    assert book.want("busy", 0.01) == 25  # one request per 10 ms: 25 within 0.25 s
    book.asked("busy")
    assert book.want("busy", 0.0101) == MAX_SLOTS  # capped
    assert book.want("busy", 0.0102) == 0  # still asking: one request per key asks at a time
    book.asked("busy")
    assert LeaseBook(lease_s=0).want("busy", 5.0) == 0  # leases off


def test_a_lease_admits_until_its_slots_budget_or_time_run_out() -> None:
    book = LeaseBook()
    book.leases["k"] = _lease(2, 0.05, expires=1.0)
    assert book.take("k", 0.02, 0.5) and book.take("k", 0.02, 0.5)
    assert not book.take("k", 0.0, 0.5)  # no slot left
    book.leases["k"] = _lease(5, 0.05, expires=1.0)
    assert book.take("k", 0.03, 0.5) and not book.take("k", 0.03, 0.5)  # not enough budget left for this one
    assert not book.take("k", 0.01, 1.0)  # expired
    assert not book.take("other", 0.0, 0.5)
    lease = book.leases["k"]
    assert book.pop("k", _lease(1, 0, 1)) is None  # only the lease it names
    assert book.pop("k", lease) is lease and book.pop("k") is None

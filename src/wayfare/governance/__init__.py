"""Governance: virtual keys, budgets, rate limits, response cache and the admin API (docs/GOVERNANCE.md).

Modules (import them directly; this package imports nothing so the store's migrations can load ``schema``):

- ``keys``: virtual keys in the store (hashed secrets), with a short in-process lookup cache.
- ``budgets``: USD budgets per key and team, reserved before a call and settled after (memory or Redis).
- ``ratelimit``: requests/tokens per minute per key and per model (memory or Redis).
- ``cache``: exact-match response cache (memory LRU or Redis).
- ``service``: :class:`~wayfare.governance.service.Governance`, the object the gateway calls per request.
- ``admin``: the ``/admin`` Starlette router.
"""

"""The Lua scripts of :class:`~wayfare.governance.redis_gate.RedisGate` (each runs alone on the Redis server, so
every check-and-count below is atomic).

Queued work (``apply``), shared by both scripts: ARGV[a] items, each ``nbk, ntk, nrk, delta, tokens`` and then
``n, window end`` per rpm key; its keys (``nbk`` budget counters, ``ntk`` tpm windows, ``nrk`` rpm windows) follow the
script's own keys. A budget counter gets ``delta`` USD (settlement: real cost - reservation; a returned lease:
- its unused USD) if it still exists; a tpm window gets ``tokens``; an rpm window gets ``n`` unused lease slots back,
only if it is still the window the lease was lent from (same end, server time, within min(1 s, window / 2)).
"""

from __future__ import annotations

from wayfare.governance.leases import FRACTION

_APPLY = """
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function apply(a, k, win)
  local now, tol = nil, math.min(1000, win / 2)
  for _ = 1, tonumber(ARGV[a]) do
    local nbk, ntk, nrk = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    local delta, tok = ARGV[a + 4], ARGV[a + 5]
    a = a + 5
    for _ = 1, nbk do
      k = k + 1
      if redis.call('EXISTS', KEYS[k]) == 1 then redis.call('INCRBYFLOAT', KEYS[k], delta) end
    end
    for _ = 1, ntk do
      k = k + 1
      redis.call('INCRBY', KEYS[k], tok)
      if redis.call('PTTL', KEYS[k]) < 0 then redis.call('PEXPIRE', KEYS[k], win) end
    end
    for _ = 1, nrk do
      k = k + 1
      local n, ends = ARGV[a + 1], tonumber(ARGV[a + 2])
      a = a + 2
      local ttl = redis.call('PTTL', KEYS[k])
      if ttl > 0 then
        if now == nil then now = server_ms() end
        if math.abs(now + ttl - ends) <= tol then redis.call('DECRBY', KEYS[k], n) end
      end
    end
  end
end
"""

ADMIT = (
    _APPLY
    + """
-- KEYS: budget counters (nb), rpm windows (nr), tpm windows (nw - nr), then the queued work's keys.
-- ARGV: nb, nr, window ms, amount, nw, lease slots wanted, (limit, seed, ttl ms) per budget counter, the limit per
-- window, then the queued work.
local nb, nr, win, amount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local nw, want, b0 = tonumber(ARGV[5]), tonumber(ARGV[6]), 6
apply(b0 + 3 * nb + nw + 1, nb + nw, win)
for i = 1, nb do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local seed = ARGV[b0 + 3 * i - 1]
    if seed == '' then return {-1, i, ''} end
    redis.call('SET', KEYS[i], seed, 'NX')
    local ttl = tonumber(ARGV[b0 + 3 * i])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
local wait, blocker = 0, 0
for j = 1, nw do
  local c = tonumber(redis.call('GET', KEYS[nb + j]) or '0')
  local lim = tonumber(ARGV[b0 + 3 * nb + j])
  if (j <= nr and c + 1 > lim) or (j > nr and c >= lim) then
    local ttl = redis.call('PTTL', KEYS[nb + j])
    if ttl < 0 then ttl = win end
    if ttl > wait then wait, blocker = ttl, j end
  end
end
local refused, committed = 0, ''
for i = 1, nb do
  local c = redis.call('GET', KEYS[i])
  if tonumber(c) >= tonumber(ARGV[b0 + 3 * i - 2]) then refused, committed = i, c break end
end
if wait == 0 then
  for j = nb + 1, nb + nr do
    if redis.call('INCR', KEYS[j]) == 1 then redis.call('PEXPIRE', KEYS[j], win) end
  end
end
if refused > 0 then return {0, refused, committed} end
if wait > 0 then return {2, blocker, tostring(wait)} end
for i = 1, nb do redis.call('INCRBYFLOAT', KEYS[i], amount) end
if want < 1 then return {1, 0, ''} end
-- a lease: g more requests (and g x amount USD), at most 1/FRACTION of what is left under every limit
local g = want
for j = 1, nr do
  local c = tonumber(redis.call('GET', KEYS[nb + j]))
  g = math.min(g, math.floor((tonumber(ARGV[b0 + 3 * nb + j]) - c) / FRACTION))
end
for j = nr + 1, nw do
  local c = tonumber(redis.call('GET', KEYS[nb + j]) or '0')
  if 2 * c >= tonumber(ARGV[b0 + 3 * nb + j]) then g = 0 end
end
if amount > 0 then
  for i = 1, nb do
    local c = tonumber(redis.call('GET', KEYS[i]))
    g = math.min(g, math.floor((tonumber(ARGV[b0 + 3 * i - 2]) - c) / FRACTION / amount))
  end
end
if g < 1 then return {1, 0, ''} end
local now = server_ms()
local out, life = {1, g, ''}, -1
for j = 1, nw do
  local ttl = redis.call('PTTL', KEYS[nb + j])
  if j <= nr then
    redis.call('INCRBY', KEYS[nb + j], g)
    out[#out + 1] = now + ttl
  end
  if ttl > 0 and (life < 0 or ttl < life) then life = ttl end
end
if amount > 0 then
  local block = string.format('%.17g', g * amount)
  for i = 1, nb do redis.call('INCRBYFLOAT', KEYS[i], block) end
end
out[3] = tostring(life)
return out
""".replace("FRACTION", str(FRACTION))
)
"""Admit one request (refusals as documented in ``redis_gate``) and maybe lend a lease: ``{1, slots, life ms, rpm
window ends...}``; ``{1, 0, ''}`` admitted without a lease; ``{0, i, committed}`` budget i refused; ``{2, j, wait
ms}`` window j refused; ``{-1, i, ''}`` budget counter i must be seeded first."""

SETTLE = (
    _APPLY
    + """
-- KEYS: the queued work's keys. ARGV: window ms, then the queued work.
apply(2, 0, tonumber(ARGV[1]))
return 1
"""
)
"""Apply queued work (settlements, returned leases) on its own."""

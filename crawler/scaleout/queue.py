"""scrapy-redis's priority queue, with leases: a popped request stays in Redis until it is acknowledged.

scrapy-redis pops destructively (ZRANGE + ZREMRANGEBYRANK): a worker that
dies takes its popped requests with it. Here a pop moves the request, in
one Lua script (atomic in Redis), from the queue into the worker's own
hash of leased requests, and renews the worker's lease: a deadline in the
``workers`` sorted set that its heartbeat keeps moving. ``ack`` removes a
request from the hash once what it fetched is on disk. Any worker, on its
periodic tick, puts the leased requests of workers whose deadline has
passed back into the queue, with their priority. Times are the Redis
server's (``TIME``), so machines' clocks need not agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scrapy import Request
from scrapy_redis.queue import PriorityQueue

from crawler.scaleout.entries import Refused, RequestCodec
from crawler.scaleout.link import Keys

# Refused entries one pop skips before it gives the engine an empty answer (it asks again soon).
_REFUSALS_PER_POP = 100

# Lua shared by the scripts below: the server's clock, and giving a dead worker's leases back.
_COMMON = """
local function now()
    local t = redis.call('TIME')
    return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function requeue(queue, workers, leased, worker)
    local held = redis.call('HGETALL', leased)
    for i = 1, #held, 2 do
        redis.call('ZADD', queue, held[i + 1], held[i])
    end
    redis.call('DEL', leased)
    redis.call('ZREM', workers, worker)
    return #held / 2
end
local function reap(queue, workers, leased_prefix)
    local moved = 0
    for _, worker in ipairs(redis.call('ZRANGEBYSCORE', workers, '-inf', now())) do
        moved = moved + requeue(queue, workers, leased_prefix .. worker, worker)
    end
    return moved
end
local function leases(workers, leased_prefix)
    local n = 0
    for _, worker in ipairs(redis.call('ZRANGE', workers, 0, -1)) do
        n = n + redis.call('HLEN', leased_prefix .. worker)
    end
    return n
end
"""

# KEYS: queue, workers, own leased hash, busy-at.  ARGV: worker, lease seconds, most bytes an entry has.
# {1, entry}, or {0, its size} for an entry too large to be one of ours: removed without being sent.
_LEASE = (
    _COMMON
    + """
local item = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #item == 0 then return false end
redis.call('ZREM', KEYS[1], item[1])
if string.len(item[1]) > tonumber(ARGV[3]) then return {0, string.len(item[1])} end
redis.call('HSET', KEYS[3], item[1], item[2])
local t = now()
redis.call('ZADD', KEYS[2], t + tonumber(ARGV[2]), ARGV[1])
redis.call('SET', KEYS[4], tostring(t))
return {1, item[1]}
"""
)

# KEYS: dupefilter, queue.  ARGV: fingerprint ('' for a request that is never filtered), score, request.
# Marked seen and queued together: a worker lost between the two cannot leave a URL seen and never queued.
_PUSH = """
if ARGV[1] ~= '' and redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS: workers.  ARGV: worker, lease seconds.
_HEARTBEAT = (
    _COMMON
    + """
redis.call('ZADD', KEYS[1], now() + tonumber(ARGV[2]), ARGV[1])
"""
)

# KEYS: queue, workers.  ARGV: leased prefix.
_REAP = (
    _COMMON
    + """
return reap(KEYS[1], KEYS[2], ARGV[1])
"""
)

# KEYS: queue, own leased hash.  ARGV: encoded requests.
_GIVE_BACK = """
local n = 0
for _, data in ipairs(ARGV) do
    local score = redis.call('HGET', KEYS[2], data)
    if score then
        redis.call('ZADD', KEYS[1], score, data)
        redis.call('HDEL', KEYS[2], data)
        n = n + 1
    end
end
return n
"""

# KEYS: queue, workers, own leased hash.  ARGV: worker.
_RELEASE = (
    _COMMON
    + """
return requeue(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
"""
)

# KEYS: queue, workers, run, busy-at, dupefilter, robots.  ARGV: leased prefix, worker.
# 1: this worker seeds a new run.  0: a run is under way (or left unfinished, and is resumed).
_CLAIM_SEED = (
    _COMMON
    + """
reap(KEYS[1], KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('SET', KEYS[4], tostring(now()))
if redis.call('ZCARD', KEYS[1]) > 0 or leases(KEYS[2], ARGV[1]) > 0 then return 0 end
redis.call('UNLINK', KEYS[5], KEYS[6])
return 1
"""
)

# KEYS: queue, workers, run, busy-at.  ARGV: leased prefix, idle seconds.
# 1: nothing queued and nothing in flight anywhere for the idle time: the run is over.
_IDLE = (
    _COMMON
    + """
reap(KEYS[1], KEYS[2], ARGV[1])
local t = now()
if redis.call('ZCARD', KEYS[1]) > 0 or leases(KEYS[2], ARGV[1]) > 0 then
    redis.call('SET', KEYS[4], tostring(t))
    return 0
end
local last = tonumber(redis.call('GET', KEYS[4]) or '0')
if t - last < tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[3])
return 1
"""
)


@dataclass(frozen=True)
class QueueStatus:
    pending: int
    seen: int
    run_under_way: bool
    workers: dict[str, tuple[float, int]]  # worker -> (seconds left on its lease, requests it holds)

    @property
    def leased(self) -> int:
        return sum(n for _, n in self.workers.values())


class LeasedQueue(PriorityQueue):
    """A site's shared request queue, seen from one worker."""

    def __init__(
        self,
        server: Any,
        spider: Any,
        keys: Keys,
        worker: str,
        lease_timeout: float,
        codec: RequestCodec,
        refuse: Callable[[str, str], None],
    ) -> None:
        super().__init__(server, spider, keys.queue)
        # Requests cross Redis as checked JSON (crawler.scaleout.entries), never as scrapy-redis's pickles.
        self.codec = codec
        self.refuse = refuse
        self.keys = keys
        self.worker = worker
        self.lease_timeout = lease_timeout
        # This worker's leases: the request as decoded, and its bytes in Redis, which name it there.
        self.held: dict[Request, bytes] = {}
        self._push = server.register_script(_PUSH)
        self._lease = server.register_script(_LEASE)
        self._heartbeat = server.register_script(_HEARTBEAT)
        self._reap = server.register_script(_REAP)
        self._give_back = server.register_script(_GIVE_BACK)
        self._release = server.register_script(_RELEASE)
        self._claim_seed = server.register_script(_CLAIM_SEED)
        self._idle = server.register_script(_IDLE)

    def push_new(self, request: Request, fingerprint: str) -> bool:
        """Queues the request unless its fingerprint was seen this run (no fingerprint: always); whether queued."""
        score = -request.priority
        return bool(self._push(keys=[self.keys.dupefilter, self.keys.queue], args=[fingerprint, score, self._encode_request(request)]))

    def _encode_request(self, request: Request) -> bytes:
        return self.codec.encode(request)

    def _decode_request(self, encoded_request: bytes) -> Request:
        return self.codec.decode(encoded_request)

    def pop(self, timeout: float = 0) -> Request | None:
        k = self.keys
        for _ in range(_REFUSALS_PER_POP):
            popped = self._lease(
                keys=[k.queue, k.workers, k.leased(self.worker), k.busy_at],
                args=[self.worker, self.lease_timeout, self.codec.max_bytes],
            )
            if not popped:
                return None
            leased, data = popped
            if not leased:
                self.refuse(k.queue, f"{data} bytes, more than REDIS_ENTRY_MAX_BYTES ({self.codec.max_bytes}); removed unread")
                continue
            try:
                request = self._decode_request(data)
            except Refused as e:
                self.server.hdel(k.leased(self.worker), data)
                self.refuse(k.queue, f"{e}; removed")
                continue
            self.held[request] = data
            return request
        return None

    def ack(self, requests: list[Request]) -> None:
        """These requests are done: what they fetched is on disk."""
        datas = [self.held.pop(r) for r in requests if r in self.held]
        if datas:
            self.server.hdel(self.keys.leased(self.worker), *datas)

    def give_back(self, requests: list[Request]) -> int:
        """These requests could not be finished here: back into the queue, for any worker."""
        datas = [self.held.pop(r) for r in requests if r in self.held]
        if not datas:
            return 0
        return int(self._give_back(keys=[self.keys.queue, self.keys.leased(self.worker)], args=datas))

    def heartbeat(self) -> None:
        self._heartbeat(keys=[self.keys.workers], args=[self.worker, self.lease_timeout])

    def reap(self) -> int:
        """Gives the leases of workers whose deadline has passed back to the queue; how many."""
        return int(self._reap(keys=[self.keys.queue, self.keys.workers], args=[self.keys.leased_prefix]))

    def release(self) -> int:
        """Gives this worker's unacknowledged leases back to the queue, and leaves the crawl."""
        self.held.clear()
        k = self.keys
        return int(self._release(keys=[k.queue, k.workers, k.leased(self.worker)], args=[self.worker]))

    def claim_seed(self) -> bool:
        """True for exactly one worker of a run: the first to find no run under way and the queue empty."""
        k = self.keys
        return bool(
            self._claim_seed(
                keys=[k.queue, k.workers, k.run, k.busy_at, k.dupefilter, k.robots], args=[k.leased_prefix, self.worker]
            )
        )

    def run_is_over(self, idle_seconds: float) -> bool:
        """Nothing queued and no request in flight in any worker for idle_seconds: True, and the run is closed."""
        k = self.keys
        return bool(self._idle(keys=[k.queue, k.workers, k.run, k.busy_at], args=[k.leased_prefix, idle_seconds]))


def queue_status(server: Any, keys: Keys) -> QueueStatus:
    """What `scrapy queue` shows; reads only."""
    now_s, now_us = server.time()
    now = now_s + now_us / 1_000_000
    workers = {}
    for raw, deadline in server.zrange(keys.workers, 0, -1, withscores=True):
        worker = raw.decode() if isinstance(raw, bytes) else raw
        workers[worker] = (deadline - now, server.hlen(keys.leased(worker)))
    return QueueStatus(
        pending=server.zcard(keys.queue),
        seen=server.scard(keys.dupefilter),
        run_under_way=bool(server.exists(keys.run)),
        workers=workers,
    )

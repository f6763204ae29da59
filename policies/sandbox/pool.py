"""Where sandbox queries run: a bounded thread pool off the event loop, with a per-user concurrency limit and queue.

A query holds a DuckDB cursor for up to its time budget. Running it in the web server's shared thread pool lets
one researcher's burst of heavy queries take every thread, so ``/health`` and other users wait. Here each query
runs in a dedicated pool of ``workers`` threads; each user has at most ``per_user`` queries running and at most
``queue_per_user`` waiting (more are refused with 429 at once); a query that waited ``queue_timeout_s`` for its
turn is refused with 429 too. The event loop only awaits.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from policies.sandbox.errors import QueryRefused, Refusal

T = TypeVar("T")


class QueryPool:
    def __init__(self, *, workers: int = 4, per_user: int = 2, queue_per_user: int = 8,
                 queue_timeout_s: float = 30.0) -> None:
        if workers < 1 or per_user < 1 or queue_per_user < 0:
            raise ValueError("workers and per_user must be at least 1, queue_per_user at least 0")
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hds-query")
        self._per_user = per_user
        self._queue = queue_per_user
        self._queue_timeout_s = queue_timeout_s
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    def in_flight(self, user: str) -> int:
        with self._lock:
            return self._in_flight.get(user, 0)

    async def run(self, user: str, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._in_flight.get(user, 0) >= self._per_user + self._queue:
                raise QueryRefused("too many of your queries are running or waiting; retry later", code="busy",
                                   kind=Refusal.BUSY)
            self._in_flight[user] = self._in_flight.get(user, 0) + 1
            semaphore = self._semaphores.setdefault(user, asyncio.Semaphore(self._per_user))
        try:
            try:
                await asyncio.wait_for(semaphore.acquire(), timeout=self._queue_timeout_s)
            except TimeoutError:
                raise QueryRefused("your query waited too long for its turn; retry later", code="busy",
                                   kind=Refusal.BUSY) from None
            try:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
            finally:
                semaphore.release()
        finally:
            with self._lock:
                self._in_flight[user] -= 1
                if self._in_flight[user] == 0:
                    del self._in_flight[user]
                    self._semaphores.pop(user, None)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

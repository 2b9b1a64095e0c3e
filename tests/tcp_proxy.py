"""A TCP proxy that a test can cut, to make a database or Redis briefly unavailable.

    with TcpProxy(database_url) as proxy:   # give the server proxy.url instead of database_url
        ...
        proxy.cut()        # every open connection drops; new ones are closed at once
        ...
        proxy.restore()    # connections work again

This is what a restarted or failed-over database looks like to the server: its pooled connections
break and reconnecting fails for a while. The real service is never touched, so tests can do it
on the shared development and CI machines.

`severed` and `refused` count what the cuts did: open connections dropped, and connections
refused while cut. They tell a test that its outage really met the server's traffic, instead of
guessing from timing; `await proxy.refusal()` waits, within a limit, until a cut has refused one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    """A proxy in front of the service at `target_url` (postgres://..., redis://...)."""

    def __init__(self, target_url: str):
        self.target_url = target_url
        parts = urlsplit(target_url)
        self.target = (parts.hostname, parts.port)
        self.port: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._open: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()  # (client, upstream)
        self._cut = False
        self.connections = 0  # accepted while not cut
        self.severed = 0  # open connections dropped by cut()
        self.refused = 0  # connections closed at once because the proxy was cut

    def start(self) -> TcpProxy:
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop).result(10)
        self.port = server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        """`target_url` with its host and port replaced by this proxy's (user and path kept)."""
        parts = urlsplit(self.target_url)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self._set_cut(True), self._loop).result(10)

    def restore(self) -> None:
        asyncio.run_coroutine_threadsafe(self._set_cut(False), self._loop).result(10)

    async def refusal(self, after: int = 0, timeout: float = 10.0) -> bool:
        """Wait (without blocking the caller's event loop) until more than `after` connections
        have been refused, at most `timeout` seconds; whether they were."""
        deadline = time.monotonic() + timeout
        while self.refused <= after:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def stop(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    async def _set_cut(self, cut: bool) -> None:
        self._cut = cut
        if cut:
            for client_writer, upstream_writer in list(self._open):
                client_writer.transport.abort()  # a reset, as when the peer goes away
                upstream_writer.transport.abort()
                self.severed += 1
            self._open.clear()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._cut:
            self.refused += 1
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        if self._cut:  # cut while connecting upstream
            self.refused += 1
            client_writer.transport.abort()
            upstream_writer.transport.abort()
            return
        self.connections += 1
        pair = (client_writer, upstream_writer)
        self._open.add(pair)
        await asyncio.gather(_pump(client_reader, upstream_writer), _pump(upstream_reader, client_writer))
        self._open.discard(pair)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()

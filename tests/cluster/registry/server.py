"""A registry served on 127.0.0.1 in a background thread, for tests (standalone or mounted at /v2).

The thread has its own event loop, so synchronous tests (the builder runs as a subprocess) and
asynchronous ones can both talk to it.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import threading
from pathlib import Path
from types import TracebackType

from aiohttp import web

from kaptain.cluster.registry import RegistryStorage, basic_authorizer, create_registry_app
from tests.conftest import free_port

TOKEN = "test-registry-token"


def basic_header(token: str = TOKEN) -> str:
    """The Authorization header a Docker client sends for `kaptain:<token>`."""
    return "Basic " + base64.b64encode(f"kaptain:{token}".encode()).decode()


class RegistryServer:
    """Runs the registry app until `stop`.

    Args:
        data_dir: the data dir (`registry/` and `images/` go there).
        token: the accepted token; None accepts every request.
        mounted: serve it as a sub-application of a parent app at `/v2` (as the API server does).
        ssl_context: serve HTTPS with this context.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        token: str | None = TOKEN,
        mounted: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.storage = RegistryStorage(data_dir)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"{'https' if ssl_context else 'http'}://{self.host}"
        self._token = token
        self._mounted = mounted
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="registry", daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> RegistryServer:
        """Starts serving; returns self."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> None:
        authorize = basic_authorizer(self._token) if self._token is not None else (lambda _header: True)
        registry = create_registry_app(self.storage, authorize=authorize)
        if self._mounted:
            app = web.Application()

            async def health(_request: web.Request) -> web.Response:
                return web.Response(text="ok")

            app.router.add_get("/healthz", health)
            app.add_subapp("/v2", registry)
        else:
            app = registry
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl).start()

    def stop(self) -> None:
        """Stops serving and ends the thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

"""Serves the review and customer APIs from the retention process, beside its FastStream app.

Each API is a uvicorn server running as a task on the service's event loop. The review server
requires a client certificate issued by the workstation CA (TLS refuses anything else before
HTTP), and hands the certificate to the app, which checks it against the registered workstations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from services.retention.review.http_review import CLIENT_CERT_STATE

log = logging.getLogger("residency.retention.review")


class ClientCertificateProtocol(H11Protocol):
    """h11 protocol that puts the peer's certificate (DER) into every request's ``scope["state"]``."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        certificate = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        # app_state is copied into each request's scope; this copy belongs to this connection only.
        self.app_state = {**self.app_state, CLIENT_CERT_STATE: certificate}


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The FastStream app owns the process's signals and stops this server on shutdown.
        yield


@dataclass(frozen=True)
class Tls:
    certificate: str
    private_key: str | None  # None: the key is in the certificate's PEM file
    client_ca: str | None = None  # set: mutual TLS, a certificate from this CA is required


class RunningServer:
    def __init__(self, name: str, server: EmbeddedServer, task: asyncio.Task) -> None:
        self.name, self._server, self._task = name, server, task

    @property
    def port(self) -> int:
        return self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task


async def start_server(name: str, app: Any, host: str, port: int, tls: Tls | None) -> RunningServer:
    options: dict[str, Any] = {}
    if tls:
        options = {"ssl_certfile": tls.certificate, "ssl_keyfile": tls.private_key}
        if tls.client_ca:
            options.update(ssl_ca_certs=tls.client_ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
    config = uvicorn.Config(app, host=host, port=port, http=ClientCertificateProtocol, lifespan="off",
                            log_level="warning", access_log=False, **options)
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(), name=f"residency-{name}")
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
            raise RuntimeError(f"{name} server stopped during start-up")
        await asyncio.sleep(0.02)
    running = RunningServer(name, server, task)
    log.info("%s API on %s:%s (%s)", name, host, running.port,
             "mutual TLS" if tls and tls.client_ca else "TLS" if tls else "plain HTTP")
    return running

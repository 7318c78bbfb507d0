"""python -m services.gateway

One uvicorn server with two listeners: the public API on HOST:PORT and the control plane on
ADMIN_HOST:ADMIN_PORT (``by_listener`` sends each connection to its app by the socket it
arrived on).
"""

import sys

import uvicorn
from pydantic import ValidationError

from services.gateway.app import by_listener, create_app
from services.gateway.settings import GatewaySettings
from services.runtime.logs import configure_logging


def read_settings() -> GatewaySettings:
    try:
        return GatewaySettings()
    except ValidationError as error:
        # Without the input values: they would put the admin key or the store's URI in the log.
        problems = [f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
                    for e in error.errors(include_input=False, include_url=False)]
        sys.exit("gateway: refusing to start, settings invalid:\n" + "\n".join(problems))


def main() -> None:
    settings = read_settings()
    configure_logging("gateway", settings.log_level, fmt=settings.log_format)
    app = create_app(settings)
    # SIGTERM: no new connections; open requests get shutdown_grace_s to be answered, then the broker stops.
    config = uvicorn.Config(by_listener(app, settings.admin_port), log_level="warning", access_log=False,
                            timeout_graceful_shutdown=int(settings.shutdown_grace_s))
    sockets = [uvicorn.Config(app, host=host, port=port).bind_socket()
               for host, port in ((settings.host, settings.port), (settings.admin_host, settings.admin_port))]
    uvicorn.Server(config).run(sockets=sockets)


if __name__ == "__main__":
    main()

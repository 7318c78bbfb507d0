"""python -m services.gateway"""

import uvicorn

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.runtime.logs import configure_logging

if __name__ == "__main__":
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level="warning", access_log=False)

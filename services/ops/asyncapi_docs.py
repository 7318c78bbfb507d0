"""Writes each service's AsyncAPI document (from its FastStream wiring), the gateway's OpenAPI and
the OpenAPI of the retention service's review and customer APIs.

    python -m services.ops.asyncapi_docs docs/asyncapi     (just docs)

The documents describe one example region; every region has the same topics under its prefix.
"""

from __future__ import annotations

import base64
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from contracts.registry import SERVICES

EXAMPLE_REGION = "eu-west"
# Placeholders so settings validate; nothing connects while documents are generated.
_PLACEHOLDERS = {"admin_key": "docs-placeholder-admin-key-0123456789",
                 "platform_key": base64.b64encode(bytes(32)).decode(),
                 "files_key": base64.b64encode(bytes(32)).decode(),
                 "adapters_key": base64.b64encode(bytes(32)).decode()}


def build_app(service: str, region: str = EXAMPLE_REGION) -> Any:
    """The service's app as its __main__ would build it, without starting anything."""
    settings_module = importlib.import_module(f"services.{service}.settings")
    app_module = importlib.import_module(f"services.{service}.app")
    settings_class = next(v for k, v in vars(settings_module).items()
                          if k.endswith("Settings") and getattr(v, "__module__", None) == settings_module.__name__)
    fields = {k: v for k, v in _PLACEHOLDERS.items() if k in settings_class.model_fields}
    return app_module.create_app(settings_class(region=region, **fields))


def broker_of(service: str, region: str = EXAMPLE_REGION) -> KafkaBroker:
    app = build_app(service, region)
    broker: KafkaBroker = app.state.gateway.broker if service == "gateway" else app.broker
    return broker


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for service in SERVICES:
        spec = AsyncAPI(broker_of(service), title=f"Residency {service}", version="1",
                        description=f"Bus interface of the {service} service (region {EXAMPLE_REGION}).")
        path = folder / f"{service}.json"
        path.write_text(json.dumps(json.loads(spec.to_specification().to_json()), indent=2, sort_keys=True) + "\n")
        written.append(path)
    gateway = build_app("gateway")
    for name, app in (("openapi-gateway.json", gateway), ("openapi-gateway-admin.json", gateway.state.admin)):
        path = folder.parent / name
        path.write_text(json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n")
        written.append(path)
    for name, app in retention_http_apps().items():
        path = folder.parent / f"openapi-retention-{name}.json"
        path.write_text(json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def retention_http_apps() -> dict[str, Any]:
    """The retention service's review and customer APIs, built as its process builds them."""
    from services.retention.app import http_apps
    from services.retention.bootstrap import bootstrap
    from services.retention.settings import RetentionSettings

    settings = RetentionSettings(region=EXAMPLE_REGION, platform_key=_PLACEHOLDERS["platform_key"])
    return http_apps(bootstrap(settings), settings)


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/asyncapi")):
        print(f"wrote {path}")

"""Data connections: a resource's registered MongoDB sources for "on your data".

Not a service: a library the gateway (registration, request matching) and retrieval (connecting)
share, like services/runtime. A connection belongs to one resource; its credentials are sealed
with the region's connections key (services/runtime/sealing.py) and never travel on the bus.
Endpoints pass one policy (``policy.EndpointPolicy``) before any socket opens: the platform's own
stores, loopback, link-local, metadata and private ranges are refused unless an operator allows a
``CIDR:port``.

Exceptions::

    Exception
    └── ConnectionRefused       a connection or endpoint the caller may not use (a 400 to the caller)
        ├── EndpointRefused     unparseable, disallowed option, or an address the policy refuses
        └── DatabaseRefused     a platform (``residency_*``) or system database or collection
"""

"""Gateway: the OpenAI / Azure-OpenAI-compatible HTTP front door and the control plane.

It authenticates the caller, validates the request at the tolerant HTTP edge, publishes it to
its region's topics, waits for the replies addressed to its replica, and answers in OpenAI's
shapes. Nothing is published for a rejected request.

Exceptions::

    Exception
    └── GatewayError            an answer in the OpenAI error shape (status, code, message, param)
        ├── AuthenticationFailed    401
        ├── NotFound                404 (also for anything of another resource: never 403)
        ├── InvalidRequest          400, with param naming the field
        └── UpstreamTimeout         504, no reply arrived in time
"""

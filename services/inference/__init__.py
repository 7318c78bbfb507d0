"""Inference: runs screened prompts on the engine and publishes what it generates.

Stateless: nothing of a prompt or completion is written to disk or logs; the engine holds a
request only while it generates it.

Exceptions::

    Exception
    └── InferenceError
        ├── InvalidGenerationRequest   the engine cannot run this request (400 to the caller)
        └── EngineUnavailable          the engine died mid-request; it restarts (503 to the caller)
            └── EngineStarting         the engine is still being built (503 and Retry-After)
"""

"""What the five services share: bus wiring, dead letters, topic admin, settings, logs, traces.

Exceptions raised by this package::

    RuntimeError
    └── RegionMismatch        a message would be published to another region's topic
    ConnectionError
    └── DependencyUnavailable a store or engine is down: retry the message, never dead-letter it
"""

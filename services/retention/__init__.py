"""Retention: the abuse-monitoring store of one region.

One record per request, content sealed with AES-256-GCM and bound to its request and resource
IDs, nothing of the content for resources with content logging off, kept at most 30 days.

Exceptions::

    Exception
    └── RetentionError
        ├── WrongRegion        a record of another region reached this region's consumer
        └── UnreadableRecord   a sealed record failed to decrypt (moved, altered or shredded)
"""

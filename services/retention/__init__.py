"""Retention: the abuse-monitoring store of one region, and just-in-time human review.

One record per request, content sealed with AES-256-GCM under a per-resource, per-day data key
(envelope encryption: the data key is stored wrapped by the platform key and, for resources with
a customer-managed key, wrapped again by it). Destroying a day's key makes that day's records
unreadable even before the sweep deletes them. Nothing of the content is stored for resources
with content logging off. Records are flagged by pattern; a flagged record can be read by request
ID under a grant approved by a second person, and every attempt is written to a hash-chained
audit log.

Exceptions::

    Exception
    └── RetentionError
        ├── WrongRegion        a record of another region reached this region's consumer
        ├── RecordRefused      the store refused one record of a batch (dead-lettered alone)
        ├── UnreadableRecord   sealed content failed to open (moved, altered, or its key destroyed)
        ├── KeyWindowClosed    a data key was asked for a day whose retention window has passed
        ├── AuditUnavailable   the audit log could not take an entry (so the access is refused)
        └── AccessRefused      a review or customer request was refused (reason code, audited)
"""

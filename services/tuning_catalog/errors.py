"""Errors of the fine-tuning store.

    Exception
    └── ContentGone   a file's or adapter's data key was destroyed (or never made): unreadable for ever
"""

from __future__ import annotations


class ContentGone(Exception):
    pass

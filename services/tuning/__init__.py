"""The tuning service: a region's uploaded files (sealed), fine-tuning jobs and trained adapters.

Exception tree in services/tuning/errors.py.
"""

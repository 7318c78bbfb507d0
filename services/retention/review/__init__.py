"""Human review of flagged records, and the customer's view of it.

- ``identity``: registered workstations (client-certificate fingerprints) and reviewers
  (token, roles, recorded location).
- ``access``: the rules, as plain async functions; every attempt is audited.
- ``http_review`` / ``http_customer``: the two HTTP APIs (own routers, own credentials).
- ``server``: serves them from the retention process (uvicorn, mutual TLS for review).
"""

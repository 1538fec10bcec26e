"""The PostgreSQL backend: several gateway processes sharing one database.

* :mod:`~gateway.store.postgres.store` -- :class:`~gateway.store.postgres.store.PostgresStore`
* :mod:`~gateway.store.postgres.idempotency` -- claiming idempotency keys across processes
"""

"""The PostgreSQL backend: several gateway processes sharing one database.

* :mod:`~gateway.store.postgres.store` -- :class:`~gateway.store.postgres.store.PostgresStore`
* :mod:`~gateway.store.postgres.idempotency` -- claiming idempotency keys across processes
* :mod:`~gateway.store.postgres.bundles` -- bundles (一链办理) and the request ids of their steps
* :mod:`~gateway.store.postgres.retention` -- purging the personal data of finished requests
* :mod:`~gateway.store.postgres.codecs` -- JSON columns in the binary format, read and written by orjson
* :mod:`~gateway.store.postgres.caller_keys` -- callers' signing keys; nonces shared by every instance

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["store"]

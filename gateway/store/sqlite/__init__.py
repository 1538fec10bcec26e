"""The SQLite backend: the embedded default for one gateway process.

* :mod:`~gateway.store.sqlite.store` -- :class:`~gateway.store.sqlite.store.SQLiteStore`
* :mod:`~gateway.store.sqlite.idempotency` -- claiming and answering idempotency keys
* :mod:`~gateway.store.sqlite.bundles` -- bundles (一链办理) and the request ids of their steps
* :mod:`~gateway.store.sqlite.retention` -- purging the personal data of finished requests
* :mod:`~gateway.store.sqlite.caller_keys` -- callers' signing keys and the nonces of accepted signatures
* :mod:`~gateway.store.sqlite.rows` -- rows as Python values (times as ISO-8601 text, JSON as text)

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["connection", "store"]

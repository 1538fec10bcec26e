"""Backup and restore: the gateway's state in one archive, and back, without forking its audit log.

* :mod:`~gateway.backup.making` -- ``onewindow backup``: the store (a consistent snapshot), the PKI
  directory without the root key, the audit key and the audit secret (sealed), with a manifest
* :mod:`~gateway.backup.restoring` -- ``onewindow restore``: refuses a store ahead of the archive, moves
  what it replaces aside, says what it restored
* :mod:`~gateway.backup.manifest` -- what an archive holds, read strictly
* :mod:`~gateway.backup.archive` -- the archive file: written owner-only, never over another; read by name
* :mod:`~gateway.backup.sealed_secret` -- the audit secret encrypted under the seal passphrase

The witness is never in a backup: it is what tells a restored store that it
is behind (docs/audit.md, "The witness"). Passphrases, the district root key
and the payload key never are either.

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["making", "manifest", "restoring"]

"""Seal keys: their algorithms, passphrases, encrypted files and PKCS#11 tokens.

* :mod:`~signing.keys.algorithms` -- ES384 (default) and ES256
* :mod:`~signing.keys.passphrase` -- the passphrases, read from the environment or a file
* :mod:`~signing.keys.pkcs8` -- encrypted PKCS#8 under scrypt, and which KDF protects a file
* :mod:`~signing.keys.signers` -- key files and the ``Signer`` protocol
* :mod:`~signing.keys.pkcs11` -- a key that never leaves its token
* :mod:`~signing.keys.sealed` -- a small secret sealed under a passphrase (scrypt, AES-256-GCM)

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["algorithms", "passphrase", "pkcs8", "pkcs11", "sealed", "signers"]

"""The audit log as a verifier reads it: entries, the Merkle tree, checkpoints and proofs.

Everything here works offline, from exported files, so security staff can
check the gateway's log with only ``onewindow-signing`` installed.

* :mod:`~signing.audit.entry` -- the entry format
* :mod:`~signing.audit.merkle` -- RFC 9162 Merkle tree primitives and proofs
* :mod:`~signing.audit.checkpoint` -- signed checkpoints (Ed25519)
* :mod:`~signing.audit.proof_files` -- inclusion and consistency proof files
* :mod:`~signing.audit.document_proof` -- a sealed document's ``seal.audit_proof``
* :mod:`~signing.audit.bundle` -- export bundles: a stretch of the log that verifies alone
* :mod:`~signing.audit.log_verifier` -- recompute a log and judge it against its checkpoints
* :mod:`~signing.audit.log_report` -- that judgement: findings and the first bad place

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["bundle", "checkpoint", "document_proof", "entry", "log_verifier", "merkle", "proof_files"]

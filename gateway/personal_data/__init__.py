"""Applicants' personal data: checking Chinese identifiers at intake, masking them at every sink.

* :mod:`~gateway.personal_data.identifiers` -- resident ID (GB 11643), credit code (GB 32100), phone checks
* :mod:`~gateway.personal_data.masking` -- masking those numbers and names in text

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["identifiers", "masking"]

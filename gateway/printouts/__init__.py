"""Sealed results as the signed PDF printouts applicants take home (issue 15).

* :mod:`~gateway.printouts.printer` -- one completed request's printout: its item's layout, its seal, the settings

The drawing, PDF/A and PAdES signature live in :mod:`signing.printout` (security
staff verify printouts without the gateway); this room adds what only the
gateway knows: the catalogue's layouts, the seal keys it holds, its public URL.

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["printer"]

"""Sealing results in the gateway (审批一枚印章), with the district's seals from :mod:`signing`.

* :mod:`~gateway.sealing.sealer` -- the seam: what the core needs from whatever seals results
* :mod:`~gateway.sealing.district_sealer` -- the implementation backed by the district's seal registry

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["coverage", "district_sealer", "sealer"]

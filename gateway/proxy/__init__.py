"""Proxy handling (帮办代办): a helper acting for an applicant on the applicant's signed authorisation.

* :mod:`~gateway.proxy.authorisation` -- the authorisation an envelope carries: parsed, checked, stored, shown
* :mod:`~gateway.proxy.schema` -- the authorisation as JSON Schema, for item schemas and the OpenAPI document
* :mod:`~gateway.proxy.lifecycle` -- the policy's six steps of a proxy-handled request, derived from its state

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["authorisation", "lifecycle", "schema"]

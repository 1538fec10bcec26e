"""Intake: one request from the HTTP body to an accepted, authorised, validated record.

* :mod:`~gateway.intake.router` -- the intake path of one request, from envelope to answer
* :mod:`~gateway.intake.checking` -- the item an envelope names and every problem with it, recording nothing
* :mod:`~gateway.intake.envelope` -- parsing ``POST /v1/requests`` bodies
* :mod:`~gateway.intake.validation` -- every material checked, every problem reported at once (一次性告知)
* :mod:`~gateway.intake.item_schema` -- an item's envelope as JSON Schema (2020-12), and its example envelopes
* :mod:`~gateway.intake.material_schema` -- one material as JSON Schema
* :mod:`~gateway.intake.callers` -- what an authenticated caller may do (who it is: :mod:`gateway.callers`)
* :mod:`~gateway.intake.request_ids` -- request ids (ULIDs)
* :mod:`~gateway.intake.lost_keys` -- after a restore, a retried key resumes the request it made under its own id
* :mod:`~gateway.intake.refusals` -- requests refused with a 422, kept (path:code only) for the district report

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["callers", "checking", "envelope", "item_schema", "refusals", "request_ids", "router"]

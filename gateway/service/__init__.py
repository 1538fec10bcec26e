"""The district's service promises at the window: time limits, receipts and one-time notices.

* :mod:`~gateway.service.calendar` -- the official calendar of holidays and swapped working days, local closures
* :mod:`~gateway.service.time_limits` -- the due date of a request (办理时限) and what is overdue

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["calendar", "time_limits"]

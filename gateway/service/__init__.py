"""The district's service promises at the window: time limits, receipts and one-time notices.

* :mod:`~gateway.service.calendar` -- the official calendar of holidays and swapped working days, local closures
* :mod:`~gateway.service.time_limits` -- the due date of a request (办理时限) and what is overdue
* :mod:`~gateway.service.notices` -- the sealed one-time notice (一次性告知书) of a refused request
* :mod:`~gateway.service.receipts` -- the sealed acceptance receipt (受理回执) of a request the agency decides later

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["calendar", "notices", "receipts", "time_limits"]

"""The district report: each office's month against the policy annex's indicator table.

* :mod:`~gateway.report.month` -- a calendar month in China Standard Time, as UTC bounds
* :mod:`~gateway.report.figures` -- the month's figures per office, counted from the store
* :mod:`~gateway.report.indicators` -- the annex's indicators, and what the gateway can and cannot measure of each
* :mod:`~gateway.report.html` -- the report as one self-contained HTML page with server-side SVG charts
* :mod:`~gateway.report.table` -- the report as one tidy CSV table

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["figures", "html", "indicators", "month", "table"]

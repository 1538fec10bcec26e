"""Ratings of finished services (好差评) and the follow-ups bad ones open.

* :mod:`~gateway.ratings.grades` -- the national five grades, the fixed tags, reading a rating from a body
* :mod:`~gateway.ratings.book` -- ratings and follow-ups in the store (SQLite or PostgreSQL)
* :mod:`~gateway.ratings.rating` -- rating one request: who may, when, once; stored and audited

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["book", "grades", "rating"]

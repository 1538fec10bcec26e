"""The service catalogue (事项目录清单): what can be requested, where, and with which materials.

* :mod:`~gateway.catalogue.items` -- items and the catalogue, with each item's service guide
* :mod:`~gateway.catalogue.materials` -- the materials an item asks for, their types and constraints
* :mod:`~gateway.catalogue.files` -- reading a plugin's catalogue file (TOML), strictly
* :mod:`~gateway.catalogue.rules` -- cross-field rules an item declares (period order, longest span, ...)
* :mod:`~gateway.catalogue.examples` -- an item's example requests (``[[items.examples]]``)
* :mod:`~gateway.catalogue.patterns` -- text patterns that mean the same to Python and to JSON Schema

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["files", "items", "materials", "rules"]

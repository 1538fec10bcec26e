"""Templates of ``onewindow new-plugin`` (package data; ``$name``-style placeholders, see gateway.scaffold)."""

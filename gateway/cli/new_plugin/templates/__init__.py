"""Templates of ``onewindow new-plugin`` (package data; ``$name`` placeholders, see its ``scaffold`` module)."""

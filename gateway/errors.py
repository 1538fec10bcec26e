"""Errors an operator can fix, shared by the command-line modules."""

from __future__ import annotations


class CommandError(Exception):
    """A command failed in a way the user can fix; ``onewindow`` prints it as one line and exits 2."""

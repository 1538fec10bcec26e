"""Onewindow: the integration gateway for township and village convenience-service centres."""

__version__ = "0.1.0"

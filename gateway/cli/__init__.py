"""The ``onewindow`` command line, one module per command group.

* :mod:`~gateway.cli.main` -- the parser and how every command ends (the console entry point)
* :mod:`~gateway.cli.serve`, :mod:`~gateway.cli.supervisor` -- ``serve``, and ``serve --workers N``
* :mod:`~gateway.cli.config` -- ``check-config``, and the configuration every command starts from
* :mod:`~gateway.cli.migrate` -- ``migrate``: the store's schema, as the role that owns it
* :mod:`~gateway.cli.catalogue` -- ``catalog list|show``
* :mod:`~gateway.cli.callers` -- ``caller new-key|add-key|list-keys|retire-key``
* :mod:`~gateway.cli.call` -- ``call ITEM``: sign and send a request as an intake system
* :mod:`~gateway.cli.outbox` -- ``outbox list|show|retry|dead-letter|drop``
* :mod:`~gateway.cli.retention` -- ``purge``: personal data of finished requests past the retention period
* :mod:`~gateway.cli.audit` -- ``audit verify|prove|export|show ...`` against the store
* :mod:`~gateway.cli.audited_seal` -- ``seal ...`` (from :mod:`signing.cli`); ``--config`` logs the act at once
* :mod:`~gateway.cli.backup` -- ``backup``, ``restore``
* :mod:`~gateway.cli.sandbox` -- ``sandbox run``
* :mod:`~gateway.cli.new_plugin` -- ``new-plugin NAME`` and its templates

Nothing here is imported by the rest of the gateway: the command line sits on top.

``__all__`` names the modules other packages may import; the rest are this package's own.
"""

__all__ = ["main"]

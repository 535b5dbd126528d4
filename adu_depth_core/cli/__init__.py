"""The ``adu-depth`` command line: one module per subcommand, found on import.

Each module in this package defines ``COMMAND`` (the subcommand name), ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Heavy imports belong inside
``run`` so that ``adu-depth --help`` stays instant.
"""

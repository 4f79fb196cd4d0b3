"""The ``sizeup`` command line: a thin layer over the library API.

Each sub-command lives in its own module under :mod:`sizeup.cli.commands` and exposes
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. Command modules import
only argparse-level things at the top; heavy libraries (numpy, rich, llama_cpp) are imported
inside ``run`` so ``sizeup --help`` stays fast.
"""

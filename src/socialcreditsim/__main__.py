"""``python -m socialcreditsim``: the same as the ``socialcreditsim`` command."""

from .cli import main

main()

"""``python -m socialcreditsim`` and the ``socialcreditsim`` command (``main``)."""

import gc


def main() -> None:
    """Run the command line. The garbage collector is off while the libraries load, and what
    they made is then frozen (``gc.freeze``): those objects live as long as the process, and
    each full collection walked all of them (0.3 s of the 1M command)."""
    gc.disable()
    try:
        from .cli import main as command
    finally:
        gc.freeze()
        gc.enable()
    command()


if __name__ == "__main__":
    main()

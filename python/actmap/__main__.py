"""``python -m actmap`` and the ``actmap`` command: the Rust CLI, compiled
into the extension module, run in this process."""

import signal
import sys


def main(argv=None):
    """Run the actmap command line; exits with its status."""
    from . import _actmap

    # Ctrl-C ends the command as it ends the Rust binary (the batch
    # renderer installs its own handler to stop between figures).
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    except ValueError:  # not the main thread
        pass
    args = list(sys.argv if argv is None else ["actmap", *argv])
    args[0] = "actmap"
    sys.exit(_actmap.cli_main(args))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Build the customer-segmentation warehouse and every report, in one command.

python pipeline.py [--input PATH] [--warehouse PATH] [--reports DIR] [--k N|auto]
                   [--features income,spending[,age]] [--strict] ...   (--help lists all)
"""

import os
import sys

STOPPED = "error: {}; the published warehouse and reports are as they were"

try:  # Ctrl-C or SIGTERM while the command is still being imported: one line, nothing built
    import signal

    def stopped_while_starting(number: int, frame: object) -> None:
        word, code = ("terminated", 143) if number == signal.SIGTERM else ("interrupted", 130)
        stops = sys.modules.get("segmentation.stops")
        if stops and stops.ANSWERED:
            # `main` has said how the build ended and the interpreter is exiting: the stop sets the
            # exit code alone (raised here, in an exit handler, it printed a traceback instead)
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):  # a closed pipe or stream: nothing more to say there
                    pass
            os._exit(code)
        print(STOPPED.format(word), file=sys.stderr)
        sys.exit(code)

    if __name__ == "__main__":  # until `main` takes the signals over
        signal.signal(signal.SIGINT, stopped_while_starting)
        signal.signal(signal.SIGTERM, stopped_while_starting)
    from segmentation.cli import main, parse_args
except KeyboardInterrupt:
    print(STOPPED.format("interrupted"), file=sys.stderr)
    sys.exit(130)

__all__ = ["main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())

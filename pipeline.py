#!/usr/bin/env python3
"""Build the customer-segmentation warehouse and every report, in one command.

python pipeline.py [--input PATH] [--warehouse PATH] [--reports DIR] [--k N|auto]
                   [--features income,spending[,age]] [--strict] ...   (--help lists all)
"""

import sys

from segmentation.cli import main, parse_args

__all__ = ["main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())

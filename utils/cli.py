"""Pieces every command line shares: logging set-up and the error boundary."""

from __future__ import annotations

import logging
import sys
from typing import Callable

from utils.errors import HarnessError

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Log to stderr: INFO by default, DEBUG with -v, warnings only with -q."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("urllib3", "httpx", "httpcore", "matplotlib", "PIL", "requests_cache"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def run_cli(main: Callable[[], int]) -> int:
    """Call ``main``; turn a HarnessError into one clear line and Ctrl-C into exit 130."""
    try:
        return main()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: finished units are saved; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED

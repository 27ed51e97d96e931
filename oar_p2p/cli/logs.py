"""The log level (root `-v`/`--log-level`, `OAR_P2P_LOG`) and where records go: stderr.

    oar-p2p -v apply spec.yaml           # info: settings and where each came from, connections
    oar-p2p -vv apply spec.yaml          # debug: every remote command with its time and bytes
    OAR_P2P_LOG=debug oar-p2p show --json spec.yaml > state.json   # stdout stays JSON

The flag wins over the environment; `-v` and `--log-level` together are a usage error.
Records of the `oar_p2p` loggers are written to stderr only (stdout carries the commands'
output, JSON included), one line each: seconds since start, level, logger, message.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping

from oar_p2p.errors import FlagError, ValueParseError

__all__ = ["LEVELS", "LOG_ENV", "configure_logging", "log_level"]

LOG_ENV = "OAR_P2P_LOG"
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _parse(text: str, where: str) -> int:
    level = LEVELS.get(text.strip().lower())
    if level is None:
        raise ValueParseError(f"invalid {where} {text!r}: allowed: {', '.join(LEVELS)}")
    return level


def log_level(verbose: int, flag: str | None, env: Mapping[str, str]) -> int:
    """The level: `--log-level`, else `-v` (info) / `-vv` (debug), else `OAR_P2P_LOG`,
    else warning.

    >>> log_level(2, None, {}) == logging.DEBUG
    True
    >>> log_level(0, None, {"OAR_P2P_LOG": "info"}) == logging.INFO
    True
    """
    if verbose and flag is not None:
        raise FlagError("-v and --log-level both set the log level: give one of them")
    if flag is not None:
        return _parse(flag, "--log-level")
    if verbose:
        return logging.INFO if verbose == 1 else logging.DEBUG
    text = env.get(LOG_ENV, "")
    return _parse(text, LOG_ENV) if text.strip() else logging.WARNING


class _Stderr(logging.Handler):
    """One line per record on whatever `sys.stderr` is when it comes (test runners swap it):
    seconds since start, level, logger name, message."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = (
                f"{record.relativeCreated / 1000:8.3f} {record.levelname.lower()} "
                f"{record.name}: {record.getMessage()}"
            )
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def configure_logging(level: int) -> Callable[[], None]:
    """Send the `oar_p2p` loggers' records at `level` and above to stderr; returns the undo
    (the CLI calls it when the command ends, so that in-process runs do not pile up)."""
    logger = logging.getLogger("oar_p2p")
    handler = _Stderr()
    before = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(before[0])
        logger.propagate = before[1]

    return undo

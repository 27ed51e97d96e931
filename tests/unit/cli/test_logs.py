"""The log level: --log-level > -v/-vv > OAR_P2P_LOG > warning; bad values are located."""

from __future__ import annotations

import logging

import pytest

from oar_p2p.cli.logs import configure_logging, log_level
from oar_p2p.errors import FlagError, ValueParseError


@pytest.mark.parametrize(
    ("verbose", "flag", "env", "expected"),
    [
        (0, None, {}, logging.WARNING),
        (1, None, {}, logging.INFO),
        (2, None, {}, logging.DEBUG),
        (3, None, {}, logging.DEBUG),
        (0, "error", {}, logging.ERROR),
        (0, None, {"OAR_P2P_LOG": "Info"}, logging.INFO),
        (0, None, {"OAR_P2P_LOG": " "}, logging.WARNING),
        (0, "warning", {"OAR_P2P_LOG": "debug"}, logging.WARNING),
        (1, None, {"OAR_P2P_LOG": "error"}, logging.INFO),
    ],
)
def test_the_level(verbose: int, flag: str | None, env: dict[str, str], expected: int) -> None:
    assert log_level(verbose, flag, env) == expected


def test_bad_levels_say_what_is_allowed() -> None:
    with pytest.raises(ValueParseError, match=r"invalid --log-level 'trace': allowed: debug, "):
        log_level(0, "trace", {})
    with pytest.raises(ValueParseError, match=r"invalid OAR_P2P_LOG '2': allowed: "):
        log_level(0, None, {"OAR_P2P_LOG": "2"})
    with pytest.raises(FlagError, match=r"-v and --log-level both set the log level"):
        log_level(1, "debug", {})


def test_records_go_to_the_current_stderr_and_the_undo_restores(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = logging.getLogger("oar_p2p")
    before = (list(logger.handlers), logger.level, logger.propagate)
    undo = configure_logging(logging.INFO)
    try:
        logging.getLogger("oar_p2p.workflows.x").info("hello %s", "there")
        logging.getLogger("oar_p2p.workflows.x").debug("not shown")
    finally:
        undo()
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.endswith(" info oar_p2p.workflows.x: hello there"), line
    assert (list(logger.handlers), logger.level, logger.propagate) == before

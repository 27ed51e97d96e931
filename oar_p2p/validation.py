"""pydantic validation with the error mapped outside the `except` block.

    spec = validated(lambda: Spec.model_validate(data), lambda exc: SpecError(...))

pydantic-core keeps each exception a validator raised (a `ValueError` with its traceback,
hence every frame up the stack) inside the `ValidationError`, where Python's garbage
collector cannot see it. An error raised inside `except ValidationError` carries that
`ValidationError` as its `__context__` (even with `from None`), and the cycle it then closes
(a caller holding `sys.exc_info()` in a frame: CliRunner, a REPL, a long-running host) can
never be collected. Measured: 0.4 MB kept per bad spec in the CLI property test, 1.7 GB
after 4,600 cases. Raising the mapped error after the block leaves no link: the
`ValidationError` dies with the block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

__all__ = ["validated"]

T = TypeVar("T")


def validated(check: Callable[[], T], error: Callable[[ValidationError], Exception]) -> T:
    """`check()`, or raise `error(exc)` with no link to pydantic's `ValidationError`.

    >>> from pydantic import TypeAdapter
    >>> validated(lambda: TypeAdapter(int).validate_python("7"), lambda e: ValueError("no"))
    7
    >>> try:
    ...     validated(lambda: TypeAdapter(int).validate_python("x"), lambda e: KeyError("bad"))
    ... except KeyError as exc:
    ...     print(exc.args[0], exc.__context__, exc.__cause__)
    bad None None
    """
    try:
        return check()
    except ValidationError as exc:
        failure = error(exc)
    raise failure

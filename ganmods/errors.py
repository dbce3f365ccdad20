"""The one exception type ganmods raises for bad input, and helpers that word it consistently."""

from __future__ import annotations

from typing import Any, Optional, TypeVar

_E = TypeVar("_E", bound=BaseException)


class ConfigurationError(ValueError):
    """Bad input: a value, a shape or a combination that ganmods refuses before any work starts.

    The message always names the argument, what is allowed and what was given. The command line prints
    it as one line (no traceback) and exits with status 2.
    """


def invalid(name: str, allowed: str, given: Any) -> ConfigurationError:
    """Build the standard error for one bad argument.

    Args:
        name: The argument's name as the user spells it (e.g. ``"n_critic"``).
        allowed: What is allowed, in words (e.g. ``"an integer >= 1"``).
        given: The value that was given.

    Returns:
        A :class:`ConfigurationError` reading ``"<name> must be <allowed>; got <given>."``.
    """
    return ConfigurationError(f"{name} must be {allowed}; got {given!r}.")


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer ``>= minimum``.

    Args:
        name: The argument's name, used in the error.
        value: The value to check.
        minimum: The smallest allowed value.

    Returns:
        ``value`` unchanged.

    Raises:
        ConfigurationError: If ``value`` is not an ``int`` (bools excluded) or is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise invalid(name, f"an integer >= {minimum}", value)
    return value


def check_non_negative(name: str, value: Any) -> float:
    """Return ``float(value)`` if it is a finite real number ``>= 0``.

    Args:
        name: The argument's name, used in the error.
        value: The value to check.

    Returns:
        ``value`` as a float.

    Raises:
        ConfigurationError: If ``value`` is not a real number, is negative, or is not finite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value < float("inf")):
        raise invalid(name, "a finite number >= 0", value)
    return float(value)


def find_cause(err: BaseException, kind: type[_E]) -> Optional[_E]:
    """The first exception of type ``kind`` in ``err``'s chain (``err`` itself, its cause, its context, ...):
    parsers and serialisers often wrap the error that says what went wrong.

    Args:
        err: The exception caught.
        kind: The exception type looked for.

    Returns:
        That exception, or None when the chain holds none.

    Example:
        >>> try:
        ...     try:
        ...         raise ConfigurationError("n must be > 0; got 0.")
        ...     except ConfigurationError as inner:
        ...         raise RuntimeError("while building") from inner
        ... except RuntimeError as outer:
        ...     str(find_cause(outer, ConfigurationError))
        'n must be > 0; got 0.'
    """
    seen: set[int] = set()
    current: Optional[BaseException] = err
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None

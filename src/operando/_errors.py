"""The one exception type that the library raises for bad input."""


class InputError(ValueError):
    """Bad input: the message says what is wrong, the value seen, and what to do.

    The command-line tool prints the message on one line and exits with code 2.
    """


class AxesAssumedWarning(UserWarning):
    """A file did not record its axes and operando assumed a layout; pass ``axes=`` to choose another."""


def validation_reason(exc: Exception, *, option_names: bool = False) -> str:
    """Return one line from a pydantic ValidationError: each field, its reason and the value given.

    Parameters
    ----------
    exc : pydantic.ValidationError
        The error (duck-typed: anything with ``errors(include_url=...)``).
    option_names : bool
        Spell fields as command-line options do (``time_budget_s`` -> ``time-budget-s``).

    Returns
    -------
    str
        E.g. ``max_steps: Input should be greater than or equal to 1 (got 0)``; no documentation link.
    """
    parts = []
    for err in exc.errors(include_url=False):  # type: ignore[attr-defined]
        field_name = ".".join(str(x) for x in err.get("loc", ()))
        if option_names:
            field_name = field_name.replace("_", "-")
        reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        value = err.get("input")
        got = "" if isinstance(value, dict) or not field_name else f" (got {value!r})"
        parts.append(f"{field_name}: {reason}{got}" if field_name else reason)
    return "; ".join(parts) or str(exc).splitlines()[0]

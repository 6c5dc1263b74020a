"""The one exception type that the library raises for bad input."""


class InputError(ValueError):
    """Bad input: the message says what is wrong, the value seen, and what to do.

    The command-line tool prints the message on one line and exits with code 2.
    """


class AxesAssumedWarning(UserWarning):
    """A file did not record its axes and operando assumed a layout; pass ``axes=`` to choose another."""

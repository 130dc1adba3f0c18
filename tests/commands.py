"""Running the ``scorematch`` command in-process, as the tests of the command line do."""

from scorematch.cli import main


def exit_code(*args) -> int:
    """The command's exit code: ``main``'s return value, or the code of the ``SystemExit`` an error ends with."""
    try:
        return main([str(a) for a in args])
    except SystemExit as e:
        return e.code

"""Running the ``scorematch`` command in-process, as the tests of the command line do."""

from scorematch.cli import main

TINY = ["--steps", "20", "--hidden", "8", "--quiet", "--judge", "off"]  # a run trained in a moment (not judged)


def exit_code(*args) -> int:
    """The command's exit code: ``main``'s return value, or the code of the ``SystemExit`` an error ends with."""
    try:
        return main([str(a) for a in args])
    except SystemExit as e:
        return e.code


def fails(capsys, *args, message: str) -> None:
    """The command ends with exit code 2 and one line on stderr that holds ``message``, no traceback."""
    assert exit_code(*args) == 2, args
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err

"""The documentation site: its Python example runs and learns (moons: low energy on the data, high far away),
and every lesson and page it names exists. The strict build itself runs in ``make test`` (``mkdocs build
--strict``)."""

import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_the_getting_started_example_runs_and_fits():
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "index.md").read_text(), flags=re.S)
    assert len(blocks) == 1
    torch.set_default_dtype(torch.float32)
    namespace: dict = {}
    exec(compile(blocks[0], "docs/index.md", "exec"), namespace)
    model, x = namespace["model"], namespace["x"]
    with torch.no_grad():
        on_data = model.energy(x[:500]).mean()
        far = model.energy(torch.tensor([[6.0, 6.0], [-6.0, -6.0], [6.0, -6.0]])).mean()
    assert far > on_data + 3, (on_data, far)
    assert namespace["result"].history[-1]["step"] == 1000


def test_every_lesson_is_on_the_lessons_page():
    page = (ROOT / "docs" / "examples.md").read_text()
    for script in sorted((ROOT / "examples").glob("[0-9][0-9]_*.py")):
        assert f"examples/{script.name}" in page, script.name


def test_docstring_tables_keep_their_columns_and_code_and_math_blocks_are_left_alone():
    import sys

    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    from rest_math import convert

    rule = "=====================  ===========\n"
    text = (f"Intro.\n\n{rule}name                   what\n{rule}:func:`energy_plot`    draws :math:`|x|`\n\n"
            f":func:`other`          second\n{rule}\nCode::\n\n    ====  ====\n    a     b\n    ====  ====\n\n"
            ".. math::\n\n    >>> not a session\n\n>>> print('====  ====')\n====  ====\n\n"
            "See :meth:`fit()`, :func:`the chooser <scorematch.classical.ggm.choose_lambda>` and :meth:`transform`.\n")
    out = convert(text, "scorematch.plot", members=["transform"], owner="scorematch.data.Standardizer")
    # a role in the first column and a blank line in the body; | inside math as \vert
    assert ('| <autoref identifier="scorematch.plot.energy_plot" optional><code>energy_plot</code></autoref> | '
            "draws $\\vert x\\vert $ |") in out
    assert "| name | what |\n|---|---|\n" in out and "<code>other</code></autoref> | second |" in out
    assert "Code::\n\n    ====  ====\n    a     b\n    ====  ====\n" in out  # a literal block stays
    assert "$$\n>>> not a session\n$$" in out  # not a doctest inside math
    assert "```pycon\n>>> print('====  ====')\n====  ====\n```" in out  # nor a table inside a doctest
    assert '<autoref identifier="scorematch.plot.fit" optional><code>fit</code></autoref>' in out  # "()" dropped
    assert '<autoref identifier="scorematch.classical.ggm.choose_lambda" optional><code>the chooser</code></autoref>' in out
    assert '<autoref identifier="scorematch.data.Standardizer.transform" optional>' in out  # a member of the class


def test_docstring_math_and_cross_references_become_markdown():
    import sys

    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    from rest_math import convert

    text = "See :func:`choose_lambda`, :class:`~scorematch.classical.ggm.GGMPath`, :mod:`torch.func` and :math:`x^2`.\n"
    out = convert(text, "scorematch.classical.ggm.select")
    assert '<autoref identifier="scorematch.classical.ggm.select.choose_lambda" optional><code>choose_lambda</code>' in out
    assert '<autoref identifier="scorematch.classical.ggm.GGMPath" optional><code>GGMPath</code></autoref>' in out
    assert "`torch.func`" in out and "$x^2$" in out and ":func:" not in out
    block = convert("Then\n\n.. math::\n\n    a = b\n\nafter.\n")
    assert "$$\na = b\n$$" in block
    session = convert("Say:\n\n>>> a = [1,\n...      2]\n>>> a\n[1, 2]\n\nDone.\n")
    assert "```pycon\n>>> a = [1,\n...      2]\n>>> a\n[1, 2]\n```\n" in session  # not three nested quotes
    rule = "====  =========\n"
    table = convert(f"Names:\n\n{rule}name  meaning\n{rule}``a``   first,\n      continued\n``b``   second\n{rule}")
    assert "| name | meaning |\n|---|---|\n| ``a`` | first, continued |\n| ``b`` | second |" in table

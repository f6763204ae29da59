"""docs/identity.md: its Python examples run, and every `hds token` / `hds keycloak bootstrap` option is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from catalog.cli.main import add_identity_commands as register

DOC = Path(__file__).resolve().parents[3] / "docs" / "identity.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_given_doc_then_it_has_python_examples() -> None:
    assert len(_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(2))
def test_given_doc_example_then_it_runs(index: int, tmp_path: Path) -> None:
    exec(compile(_python_blocks()[index], f"{DOC.name}[python block {index}]", "exec"), {"data_dir": tmp_path})


def test_given_cli_options_then_each_is_documented() -> None:
    parser = argparse.ArgumentParser(prog="hds")
    sub = parser.add_subparsers()
    register(sub)
    text = DOC.read_text(encoding="utf-8")
    token = sub.choices["token"]
    bootstrap = sub.choices["keycloak"]._subparsers._group_actions[0].choices["bootstrap"]  # type: ignore[union-attr]
    for command in (token, bootstrap):
        for action in command._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert option in text, f"{option} is not documented in docs/identity.md"

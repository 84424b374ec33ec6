"""Every function of functions/main.py is served by the local stack with the signature Terraform deploys."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from perfguard.local.wsgi import MAIN, function_signatures
from perfguard.topology import load_topology


def decorated_functions(source: Path) -> dict[str, str]:
    """Function name to decorator kind, read from the source (an oracle independent of functions-framework)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    kinds = {"http": "http", "cloud_event": "cloudevent"}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Attribute) and decorator.attr in kinds:
                    found[node.name] = kinds[decorator.attr]
    return found


def test_the_stack_serves_every_entry_point_with_its_signature() -> None:
    assert function_signatures() == decorated_functions(MAIN)
    assert len(function_signatures()) >= 7


def test_every_subscription_targets_a_cloudevent_function() -> None:
    signatures = function_signatures()
    for subscription in load_topology().subscriptions:
        assert signatures.get(subscription.function) == "cloudevent", subscription


def test_a_bad_rules_file_stops_the_stack_at_start(tmp_path: Path) -> None:
    from perfguard.errors import ConfigError
    from perfguard.local.stack import LocalStack
    from perfguard.settings import Settings

    rules = tmp_path / "rules.yaml"
    rules.write_text("- name: x\n", encoding="utf-8")
    stack = LocalStack(Settings(data_dir=str(tmp_path), rules_file=str(rules)), port=0)
    with pytest.raises(ConfigError, match="rule"):
        stack.start()


def test_a_bad_canisters_file_stops_the_stack_at_start(tmp_path: Path) -> None:
    from perfguard.errors import ConfigError
    from perfguard.local.stack import LocalStack
    from perfguard.settings import Settings

    canisters = tmp_path / "canisters.yaml"
    canisters.write_text("canisters: [{name: ledger}]\n", encoding="utf-8")
    stack = LocalStack(Settings(data_dir=str(tmp_path), canisters_file=str(canisters)), port=0)
    with pytest.raises(ConfigError, match="canisters.yaml"):
        stack.start()

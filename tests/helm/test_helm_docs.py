"""docs/deployment.md documents every value, and its examples render."""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections.abc import Iterator
from typing import Any

import helm_python
import pytest
import yaml
from helm_python import Chart

from helm_kit import CHART_DIR, REPO_ROOT, container, env_of, merged, render

DOC = REPO_ROOT / "docs" / "deployment.md"

# Blocks whose inside is Kubernetes-shaped: documented as one value, not key by key.
OPAQUE = {"podSecurityContext", "securityContext", "resources", "liveness", "readiness", "annotations", "nodeSelector", "affinity"}


def _value_paths(values: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        path = prefix + key
        if isinstance(value, dict) and value and key not in OPAQUE:
            yield from _value_paths(value, path + ".")
        else:
            yield path


def _documented() -> set[str]:
    """Value names in the first column of the table under "## Values"."""
    section = DOC.read_text().split("\n## Values\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


def _fenced(lang: str) -> list[str]:
    """Code blocks of one language, list-indented ones included (dedented)."""
    blocks = re.findall(rf"^( *)```{lang}\n(.*?)^\1```", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)
    return [textwrap.dedent(body) for _, body in blocks]


def _all_values() -> set[str]:
    return set(_value_paths(yaml.safe_load((CHART_DIR / "values.yaml").read_text())))


def test_every_value_in_values_yaml_is_in_the_docs_table() -> None:
    missing = sorted(_all_values() - _documented())
    assert missing == [], f"document these values in docs/deployment.md: {missing}"


def test_the_docs_table_documents_no_value_that_does_not_exist() -> None:
    stale = sorted(_documented() - _all_values())
    assert stale == [], f"docs/deployment.md documents values the chart does not have: {stale}"


def _values_examples() -> list[tuple[str, dict[str, Any]]]:
    examples = []
    for block in _fenced("yaml"):
        first = block.splitlines()[0]
        if first.startswith("# values:"):
            examples.append((first.removeprefix("# values:").strip(), yaml.safe_load(block)))
    return examples


def test_docs_carry_values_examples() -> None:
    assert len(_values_examples()) >= 3


@pytest.mark.parametrize(("title", "values"), _values_examples(), ids=[t for t, _ in _values_examples()])
def test_every_values_example_in_the_docs_lints_and_renders(chart: Chart, title: str, values: dict[str, Any]) -> None:
    report = helm_python.lint(CHART_DIR, values, strict=True, namespace="hds")
    assert [m for m in report["messages"] if m["severity"] >= 2] == [] and report["errors"] == []
    release = render(chart, values)
    gateway = env_of(container(release.get("Deployment", "city-hds-gateway"), "gateway"))
    assert gateway["HDS_ENV"]["value"] == "production"
    assert gateway["HDS_DEID_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "hds-deid-keys"
    assert release.get("StatefulSet", "city-hds-catalog")["spec"]["replicas"] == 1


def _set_file_expressions() -> list[str]:
    """Run the docs' policy-override shell block with `helm` standing in as a printer of its arguments."""
    [block] = [b for b in _fenced("sh") if "--set-file" in b]
    script = 'helm() { printf "%s\\n" "$@"; }\n' + block
    printed = subprocess.run(["bash", "-ec", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    words = printed.splitlines()
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--set-file"]


def test_the_docs_policy_override_command_mounts_every_repository_policy_file(
    chart: Chart, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_disk = {p.relative_to(REPO_ROOT / "policies").as_posix() for p in (REPO_ROOT / "policies").glob("deid/*.yaml")}
    on_disk |= {name for name in ("feeds.yaml", "datasets.yaml") if (REPO_ROOT / "policies" / name).exists()}
    if not {"feeds.yaml", "datasets.yaml"} <= on_disk:
        pytest.skip("policies/feeds.yaml or policies/datasets.yaml is not in this checkout")
    monkeypatch.chdir(REPO_ROOT)
    override: dict[str, Any] = {}
    for expression in _set_file_expressions():
        override = merged(override, helm_python.parse_set_file(expression))
    files = override["policies"]["files"]
    assert set(files) == on_disk
    base = {"env": "production", "kafka": {"bootstrap": "kafka:9092"}, "deid": {"keySecret": {"name": "hds-deid-keys"}},
            "oidc": {"issuer": "https://sso.city.example/realms/hds"}}
    release = render(chart, merged(base, override))
    data = release.get("ConfigMap", "city-hds-policies")["data"]
    for path in on_disk:
        assert data[path.replace("/", "--")] == (REPO_ROOT / "policies" / path).read_text(), path
    [volume] = [v for v in release.get("Deployment", "city-hds-gateway")["spec"]["template"]["spec"]["volumes"] if v["name"] == "policies"]
    assert {item["path"] for item in volume["configMap"]["items"]} == on_disk

"""How the kube smoke turns rendered manifests into what podman plays, and how its leak check decides
(no podman needed: these run everywhere)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helm_kit import Release
from kube_smoke import as_text, leaked_identifiers, render_dev
from podman_kube import NOT_PLAYED, secret_payload, translate

PORTS = {"broker": 19092, "api": 18000, "metrics": 19100}


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return render_dev("localhost/hds:0.1.0", PORTS)


def _pods(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["spec"]["template"]["spec"] if d["kind"] == "Deployment" else d["spec"]
            for d in docs if d["kind"] in ("Deployment", "Pod")]


def test_the_smoke_renders_values_dev_on_its_own_ports_with_a_localhost_broker(rendered: list[dict[str, Any]]) -> None:
    release = Release(manifests=rendered, notes="")
    broker = release.get("Deployment", "smoke-hds-broker")["spec"]["template"]["spec"]["containers"][0]
    assert "tcp://127.0.0.1:19092" in broker["args"]
    for kind, name in (("Deployment", "smoke-hds-gateway"), ("StatefulSet", "smoke-hds-catalog")):
        [c] = release.get(kind, name)["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["HDS_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"


def test_the_catalog_statefulset_is_played_as_a_deployment_with_its_claim(rendered: list[dict[str, Any]]) -> None:
    plan = translate(rendered)
    [claim] = [d for d in plan.services if d["kind"] == "PersistentVolumeClaim"]
    assert claim["metadata"]["name"] == "catalog-smoke-hds-catalog-0" and plan.volumes == ["catalog-smoke-hds-catalog-0"]
    [catalog] = [d for d in plan.services if d["kind"] == "Deployment" and d["metadata"]["name"] == "smoke-hds-catalog"]
    volumes = {v["name"]: v for v in catalog["spec"]["template"]["spec"]["volumes"]}
    assert volumes["catalog"] == {"name": "catalog", "persistentVolumeClaim": {"claimName": "catalog-smoke-hds-catalog-0"}}
    assert not [d for d in plan.services + plan.broker + plan.jobs if d["kind"] == "StatefulSet"]


def test_the_broker_plays_first_and_the_job_last_as_a_pod(rendered: list[dict[str, Any]]) -> None:
    plan = translate(rendered)
    assert [d["metadata"]["name"] for d in plan.broker if d["kind"] == "Deployment"] == ["smoke-hds-broker"]
    assert {d["metadata"]["name"] for d in plan.services if d["kind"] == "Deployment"} == {"smoke-hds-gateway", "smoke-hds-catalog"}
    [job] = plan.jobs
    assert (job["kind"], job["metadata"]["name"], job["spec"]["restartPolicy"]) == ("Pod", "smoke-hds-synthetic-feeds", "Never")


def test_pods_join_the_host_network_without_probes_or_port_mappings_but_keep_their_security(
    rendered: list[dict[str, Any]]
) -> None:
    plan = translate(rendered)
    pods = _pods(plan.broker + plan.services + plan.jobs)
    assert len(pods) == 4
    for spec in pods:
        assert spec["hostNetwork"] is True
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
        for c in spec["containers"]:
            assert not {"livenessProbe", "readinessProbe", "startupProbe", "ports"} & set(c)
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
    # The rendered manifests themselves keep their probes (the translation copies, never edits).
    assert all("livenessProbe" in c for d in rendered if d["kind"] == "Deployment"
               for c in d["spec"]["template"]["spec"]["containers"])


def test_what_podman_cannot_play_is_listed_not_silently_dropped(rendered: list[dict[str, Any]]) -> None:
    plan = translate(rendered)
    kinds = {entry.split("/")[0] for entry in plan.not_played}
    assert {"NetworkPolicy", "Service", "ServiceAccount"} <= kinds <= NOT_PLAYED
    played = {d["kind"] for d in plan.broker + plan.services + plan.jobs}
    assert played <= {"ConfigMap", "Deployment", "PersistentVolumeClaim", "Pod"}


def test_secret_documents_become_podman_secrets_and_are_never_played() -> None:
    docs = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"A": base64.b64encode(b"x").decode()},
         "stringData": {"B": "y"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
         "spec": {"template": {"metadata": {"labels": {}}, "spec": {"containers": [{"name": "c"}]}}}},
    ]
    plan = translate(docs)
    assert all(d["kind"] != "Secret" for d in plan.broker + plan.services + plan.jobs)
    payload = json.loads(secret_payload(plan.secrets["s"]))
    assert {k: base64.b64decode(v) for k, v in payload.items()} == {"A": b"x", "B": b"y"}


@pytest.fixture(scope="module")
def identifiers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    from catalog.cli.synth.feeds import generate

    return generate(Path(tmp_path_factory.mktemp("synth")), seed=11, patients=12).identifiers.as_dict()


def test_non_ascii_identifiers_are_searched_as_written() -> None:
    assert leaked_identifiers(as_text([["王秀英 room 4"]]), {"names": ["王秀英 "]}) == {"names": 0}  # < 4 characters
    assert leaked_identifiers(as_text([["Zoë Müller-Lüdenscheidt"]]), {"names": ["zoë müller"]}) == {"names": 1}


def test_clean_rows_have_no_leak(identifiers: dict[str, list[str]]) -> None:
    rows = as_text([["ps_3f9a1c", "1980", "F", "90+"], ["ps_77d0e2", "1975", "M", "100"]])
    assert sum(leaked_identifiers(rows, identifiers).values()) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_planted_identifier_is_found_whatever_its_case_and_surroundings(identifiers: dict[str, list[str]], data: st.DataObject) -> None:
    kinds = sorted(k for k, values in identifiers.items() if any(len(v.strip()) >= 4 for v in values))
    assert len(kinds) >= 4
    kind = data.draw(st.sampled_from(kinds))
    value = data.draw(st.sampled_from([v for v in identifiers[kind] if len(v.strip()) >= 4]))
    planted = data.draw(st.sampled_from([value, value.upper(), value.lower()]))
    before = data.draw(st.text(alphabet="abc 0123-,{}[]\"\\\n\u00e9\u738b", max_size=20))
    rows = as_text([["ps_1", before + planted + " x"]])
    assert leaked_identifiers(rows, identifiers)[kind] >= 1


def test_policy_configmaps_with_subdirectories_are_laid_out_on_the_host_as_their_items_say(tmp_path: Path) -> None:
    from kube_smoke import repository_policies

    files = repository_policies()
    assert {"feeds.yaml", "datasets.yaml"} <= set(files) and any(f.startswith("deid/") for f in files)
    docs = render_dev("localhost/hds:0.1.0", PORTS, policy_files=files)
    plan = translate(docs, host_dir=tmp_path)
    [catalog] = [d for d in plan.services if d["metadata"]["name"] == "smoke-hds-catalog" and d["kind"] == "Deployment"]
    [volume] = [v for v in catalog["spec"]["template"]["spec"]["volumes"] if v["name"] == "policies"]
    root = Path(volume["hostPath"]["path"])
    laid_out = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.yaml")}
    assert laid_out == files
    [mount] = [m for m in catalog["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] if m["name"] == "policies"]
    assert mount["readOnly"] is True and mount["mountPath"] == "/etc/hds/policies"


def test_without_a_host_directory_such_a_configmap_is_refused_not_dropped() -> None:
    from kube_smoke import repository_policies

    docs = render_dev("localhost/hds:0.1.0", PORTS, policy_files=repository_policies())
    with pytest.raises(ValueError, match="ConfigMap items in subdirectories"):
        translate(docs)

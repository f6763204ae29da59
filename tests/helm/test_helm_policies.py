"""Policy files can be overridden by a ConfigMap mounted at HDS_POLICIES_DIR; otherwise the image's are used."""

from __future__ import annotations

from helm_python import Chart

from helm_kit import MINIMAL_PRODUCTION
from helm_kit import Release, container, env_of, merged, render

FILES = {
    "feeds.yaml": "feeds: {}\n",
    "datasets.yaml": "datasets: {}\n",
    "deid/hl7v2-safe-harbor.yaml": "name: hl7v2-safe-harbor\n",
}


def test_given_no_policy_files_then_image_policies_are_used(minimal: Release) -> None:
    assert not minimal.has("ConfigMap", "city-hds-policies")
    env = env_of(container(minimal.get("Deployment", "city-hds-gateway"), "gateway"))
    assert "HDS_POLICIES_DIR" not in env


def test_given_policy_files_then_a_configmap_is_mounted_at_the_policies_dir(chart: Chart) -> None:
    release = render(chart, merged(MINIMAL_PRODUCTION, {"policies": {"files": FILES}}))
    cm = release.get("ConfigMap", "city-hds-policies")
    assert cm["data"]["deid--hl7v2-safe-harbor.yaml"] == FILES["deid/hl7v2-safe-harbor.yaml"]
    for kind, name, cname in [("Deployment", "city-hds-gateway", "gateway"), ("StatefulSet", "city-hds-catalog", "catalog")]:
        workload = release.get(kind, name)
        c = container(workload, cname)
        assert env_of(c)["HDS_POLICIES_DIR"]["value"] == "/etc/hds/policies"
        assert {"name": "policies", "mountPath": "/etc/hds/policies", "readOnly": True} in c["volumeMounts"]
        [volume] = [v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == "policies"]
        paths = {item["key"]: item["path"] for item in volume["configMap"]["items"]}
        assert paths["deid--hl7v2-safe-harbor.yaml"] == "deid/hl7v2-safe-harbor.yaml"
        assert paths["feeds.yaml"] == "feeds.yaml"

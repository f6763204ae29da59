"""values-dev.yaml: the embedded broker pod, the dev identity and synthetic feeds; none of it in production."""

from __future__ import annotations

import pytest
from helm_python import Chart
from helm_python.errors import HelmRenderError

from helm_kit import MINIMAL_PRODUCTION, Release, container, dev_values, env_of, merged, render

HDS_WORKLOADS = (("Deployment", "city-hds-gateway", "gateway"), ("StatefulSet", "city-hds-catalog", "catalog"),
                 ("Job", "city-hds-synthetic-feeds", "synthetic-feeds"))


def test_dev_release_runs_the_embedded_broker_from_the_hds_image_in_memory(dev: Release) -> None:
    broker = container(dev.get("Deployment", "city-hds-broker"), "broker")
    assert broker["image"] == "localhost/hds:0.1.0"
    assert broker["command"] == ["tansu"]
    assert broker["args"] == ["broker", "--listener-url", "tcp://0.0.0.0:9092",
                              "--advertised-listener-url", "tcp://city-hds-broker:9092",
                              "--storage-engine", "memory://tansu/"]
    service = dev.get("Service", "city-hds-broker")
    assert service["spec"]["ports"] == [{"name": "kafka", "port": 9092, "targetPort": "kafka"}]
    pod_labels = dev.get("Deployment", "city-hds-broker")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize(("kind", "name", "c"), HDS_WORKLOADS)
def test_dev_release_points_every_hds_container_at_the_broker_service(dev: Release, kind: str, name: str, c: str) -> None:
    env = env_of(container(dev.get(kind, name), c))
    assert env["HDS_KAFKA_BOOTSTRAP"]["value"] == "city-hds-broker:9092"
    assert env["HDS_ENV"]["value"] == "development"


def test_given_an_advertised_host_then_broker_and_clients_use_it(chart: Chart) -> None:
    release = render(chart, merged(dev_values(), {"broker": {"advertisedHost": "127.0.0.1", "port": 19092}}))
    args = container(release.get("Deployment", "city-hds-broker"), "broker")["args"]
    assert args[1:5] == ["--listener-url", "tcp://0.0.0.0:19092", "--advertised-listener-url", "tcp://127.0.0.1:19092"]
    env = env_of(container(release.get("Deployment", "city-hds-gateway"), "gateway"))
    assert env["HDS_KAFKA_BOOTSTRAP"]["value"] == "127.0.0.1:19092"


def test_given_an_external_kafka_then_it_wins_over_the_dev_broker(chart: Chart) -> None:
    release = render(chart, merged(dev_values(), {"kafka": {"bootstrap": "kafka.dev:9092"}}))
    env = env_of(container(release.get("StatefulSet", "city-hds-catalog"), "catalog"))
    assert env["HDS_KAFKA_BOOTSTRAP"]["value"] == "kafka.dev:9092"


def test_dev_release_uses_the_dev_identity_and_keys_from_a_secret(dev: Release) -> None:
    catalog = env_of(container(dev.get("StatefulSet", "city-hds-catalog"), "catalog"))
    assert "HDS_OIDC_ISSUER" not in catalog and "HDS_KEYCLOAK_URL" not in catalog  # dev issuer in the catalog
    assert catalog["HDS_SANDBOX_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "hds-dev-keys", "key": "HDS_SANDBOX_KEY",
                                                                        "optional": False}
    gateway = env_of(container(dev.get("Deployment", "city-hds-gateway"), "gateway"))
    assert gateway["HDS_DEID_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "hds-dev-keys"
    assert "HDS_DEID_KEYS" not in catalog
    assert not dev.all("Secret")  # secrets are created beside the chart, never rendered from values


def test_dev_release_publishes_synthetic_feeds_after_install(dev: Release) -> None:
    job = dev.get("Job", "city-hds-synthetic-feeds")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install"
    c = container(job, "synthetic-feeds")
    assert c["command"] == ["/bin/sh", "-ec"]
    [script] = c["args"]
    assert "hds synth --out /tmp/feeds --seed 7 --patients 60" in script
    assert 'hds publish --hospital "$hospital" --feed "${name%%.*}" "$file"' in script
    env = env_of(c)
    assert "HDS_DEID_KEYS" not in env and "HDS_SANDBOX_KEY" not in env  # a publisher holds no keys
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp"}


def test_the_synthetic_feeds_script_publishes_each_generated_file_as_its_hospital_and_feed(tmp_path, dev: Release) -> None:  # type: ignore[no-untyped-def]
    """Run the Job's script with `hds` standing in as a printer, over the layout `hds synth` really writes."""
    import subprocess

    from catalog.cli.synth.feeds import generate

    manifest = generate(tmp_path / "feeds", seed=3, patients=4)
    [script] = container(dev.get("Job", "city-hds-synthetic-feeds"), "synthetic-feeds")["args"]
    script = script.replace("/tmp/feeds", str(tmp_path / "feeds"))
    stub = 'hds() { if [ "$1" = publish ]; then echo "$3 $5 $6"; fi; }\n'
    out = subprocess.run(["sh", "-ec", stub + script], capture_output=True, text=True, check=True).stdout.split("\n")
    published = {tuple(line.split(" ")) for line in out if line}
    expected = {(h, f, str(path)) for h, f, _info, path in manifest.feeds()}
    assert len(expected) >= 4
    assert published == expected


def test_dev_release_never_pulls_the_image(dev: Release) -> None:
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in dev.all(kind):
            for c in workload["spec"]["template"]["spec"]["containers"]:
                assert c["imagePullPolicy"] == "Never", workload["metadata"]["name"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"broker": {"enabled": True}}, "broker.enabled is refused when env=production"),
        ({"syntheticFeeds": {"enabled": True}}, "syntheticFeeds.enabled is refused when env=production"),
    ],
)
def test_given_production_then_development_parts_are_refused(chart: Chart, override: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(HelmRenderError, match=message):
        render(chart, merged(MINIMAL_PRODUCTION, override))


def test_given_neither_kafka_nor_broker_then_render_is_refused(chart: Chart) -> None:
    values = merged(dev_values(), {"broker": {"enabled": False}})
    with pytest.raises(HelmRenderError, match="kafka.bootstrap is required"):
        render(chart, values)


def test_production_release_renders_no_development_part(minimal: Release) -> None:
    assert not minimal.has("Deployment", "city-hds-broker")
    assert not minimal.has("Job", "city-hds-synthetic-feeds")
    assert "DEVELOPMENT DEPLOYMENT" not in minimal.notes


def test_dev_release_notes_warn_that_it_is_memory_only_and_synthetic(dev: Release) -> None:
    assert "DEVELOPMENT DEPLOYMENT: the embedded broker keeps messages in memory only" in dev.notes


def test_dev_release_notes_say_how_to_get_a_dev_identity_token(dev: Release, minimal: Release) -> None:
    assert "kubectl -n hds exec city-hds-catalog-0 -- hds token --user alice --role researcher" in dev.notes
    assert "hds token" not in minimal.notes  # an issuer is configured: tokens come from it

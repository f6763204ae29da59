"""Dataset documentation over HTTP on the real pipeline: /metadata, /dcat (HealthDCAT-AP) and the audit pager."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pipeline_kit import Pipeline
from rdflib import Graph, Literal, Namespace, URIRef

from policies.identity.dev_issuer import DevIssuer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Plain namespaces (rdflib's closed DefinedNamespace classes warn when pytest inspects the module).
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
DPV = Namespace("https://w3id.org/dpv#")


@pytest.fixture()
def researcher(pipeline: Pipeline) -> Iterator[httpx.Client]:
    token = DevIssuer.from_settings(pipeline.settings).issue("dora", ["researcher"])
    with httpx.Client(base_url=pipeline.catalog.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        yield c


def _summary(client: httpx.Client, dataset: str) -> dict:
    r = client.get(f"/api/datasets/{dataset}")
    assert r.status_code == 200, r.text
    return r.json()


def test_given_admissions_then_metadata_names_the_deidentification_of_each_column(researcher: httpx.Client) -> None:
    r = researcher.get("/api/datasets/admissions/metadata")
    assert r.status_code == 200, r.text
    meta = r.json()
    cols = {c["name"]: c for c in meta["columns"]}
    assert "payload" not in cols  # never released, not documented as if it were
    assert cols["birth_year"]["deid"] == {"rule": "generalised", "detail": "year"}
    assert cols["zip3"]["deid"] == {"rule": "generalised", "detail": "digits3"}
    assert cols["admit_date"]["deid"] == {"rule": "shifted", "detail": "per_patient"}
    assert cols["patient_pseudonym"]["deid"]["rule"] == "pseudonymised"
    assert cols["ward"]["deid"]["rule"] == "kept" and cols["ward"]["source"] == "PV1-3.1"
    assert cols["diagnosis_code"]["coding"] == "ICD-10-CM"
    assert all(c["meaning"]["en"] and c["meaning"]["zh"] for c in meta["columns"])
    summary = _summary(researcher, "admissions")
    assert meta["rows"] == summary["rows"] > 0 and meta["patients"] == summary["patients"] > 0
    assert {h["id"] for h in meta["hospitals"]} == set(summary["hospitals"])
    assert meta["coverage"]["start"] <= meta["coverage"]["end"]
    assert meta["tier"] == summary["tier"]


def test_given_lab_results_then_csv_columns_are_documented_from_the_csv_profile(researcher: httpx.Client) -> None:
    meta = researcher.get("/api/datasets/lab_results/metadata").json()
    cols = {c["name"]: c for c in meta["columns"]}
    assert cols["birth_date"]["deid"] == {"rule": "generalised", "detail": "year_90"}
    assert cols["zip"]["deid"] == {"rule": "generalised", "detail": "digits3"}
    assert cols["comment"]["deid"]["rule"] == "redacted"
    assert cols["mrn"]["deid"]["rule"] == "pseudonymised"
    assert cols["collected_at"]["deid"]["rule"] == "shifted"
    assert {"name": "LOINC", "uri": "http://www.wikidata.org/entity/P4338"} in meta["coding_systems"]


def test_given_a_dataset_then_the_timeline_withholds_small_months_and_rounds_the_rest(researcher: httpx.Client) -> None:
    meta = researcher.get("/api/datasets/admissions/metadata").json()
    months = meta["timeline"]["months"]
    assert months, "the timeline has at least one month"
    floor, base = meta["timeline"]["withheld_below"], meta["timeline"]["rounded_to"]
    shown = [m["records"] for m in months if m["records"] is not None]
    assert all(n >= floor and n % base == 0 for n in shown)
    assert [m["month"] for m in months] == sorted(m["month"] for m in months)


def test_given_a_dataset_then_k_anonymity_matches_the_risk_module_on_the_same_rows(pipeline: Pipeline,
                                                                                 researcher: httpx.Client) -> None:
    from deid.risk import risk_report

    meta = researcher.get("/api/datasets/admissions/metadata").json()
    risk = meta["k_anonymity"]
    quasi = risk["quasi_identifiers"]
    assert "birth_year" in quasi and "sex" in quasi
    cur = pipeline.catalog.store.cursor()
    try:
        result = cur.execute(f"SELECT {', '.join(quasi)} FROM admissions")
        rows = [dict(zip(quasi, row)) for row in result.fetchall()]
    finally:
        cur.close()
    expected = risk_report(rows, quasi, k=risk["k"])
    assert risk["k_anonymity"] == expected["k_anonymity"] and risk["classes"] == expected["classes"]
    assert risk["records"] == len(rows)


def test_given_an_unknown_dataset_then_metadata_and_dcat_answer_404(researcher: httpx.Client) -> None:
    for path in ("/api/datasets/nope/metadata", "/api/datasets/nope/dcat"):
        r = researcher.get(path)
        assert r.status_code == 404 and r.json() == {"detail": "no such dataset"}


def test_given_no_token_then_dcat_is_refused(pipeline: Pipeline) -> None:
    assert httpx.get(pipeline.catalog.url + "/api/datasets/admissions/dcat", timeout=30).status_code == 401


def _assert_healthdcat(g: Graph, summary: dict, base: str) -> None:
    ds = URIRef(f"{base}/api/datasets/{summary['id']}")
    assert (ds, RDF.type, DCAT.Dataset) in g
    assert (ds, DCTERMS.title, Literal(summary["title"], lang="en")) in g
    assert g.value(ds, DCTERMS.description) is not None
    assert g.value(ds, DCTERMS.publisher) is not None
    assert (ds, HEALTH.numberOfRecords, Literal(summary["rows"], datatype=XSD.nonNegativeInteger)) in g
    assert (ds, HEALTH.numberOfUniqueIndividuals, Literal(summary["patients"], datatype=XSD.nonNegativeInteger)) in g
    assert (ds, DCTERMS.accessRights,
            URIRef("http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC")) in g
    period = g.value(ds, DCTERMS.temporal)
    assert period is not None and g.value(period, DCAT.startDate).datatype == XSD.date
    assert set(g.objects(ds, DPV.hasLegalBasis)) and set(g.objects(ds, DPV.hasPurpose))
    creators = {str(g.value(c, URIRef("http://xmlns.com/foaf/0.1/name"))) for c in g.objects(ds, DCTERMS.creator)}
    assert len(creators) == len(summary["hospitals"])


def test_given_dcat_then_json_ld_parses_back_into_the_healthdcat_triples(pipeline: Pipeline,
                                                                          researcher: httpx.Client) -> None:
    r = researcher.get("/api/datasets/admissions/dcat")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    json.loads(r.text)  # valid JSON first
    g = Graph().parse(data=r.text, format="json-ld")
    _assert_healthdcat(g, _summary(researcher, "admissions"), pipeline.catalog.url)
    ds = URIRef(f"{pipeline.catalog.url}/api/datasets/admissions")
    assert URIRef("http://www.wikidata.org/entity/P4229") in set(g.objects(ds, HEALTH.hasCodingSystem))


def test_given_accept_turtle_then_dcat_is_turtle_with_the_same_triples(pipeline: Pipeline,
                                                                       researcher: httpx.Client) -> None:
    r = researcher.get("/api/datasets/lab_results/dcat", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle")
    g = Graph().parse(data=r.text, format="turtle")
    _assert_healthdcat(g, _summary(researcher, "lab_results"), pipeline.catalog.url)
    j = Graph().parse(data=researcher.get("/api/datasets/lab_results/dcat").text, format="json-ld")
    assert len(g) == len(j)


SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix healthdcatap: <http://healthdataportal.eu/ns/health#> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .
<urn:shape:Dataset> a sh:NodeShape ; sh:targetClass dcat:Dataset ;
  sh:property [ sh:path dct:title ; sh:minCount 1 ; sh:datatype <http://www.w3.org/1999/02/22-rdf-syntax-ns#langString> ] ;
  sh:property [ sh:path dct:description ; sh:minCount 1 ] ;
  sh:property [ sh:path dct:publisher ; sh:minCount 1 ; sh:maxCount 1 ; sh:class foaf:Agent ] ;
  sh:property [ sh:path dct:accessRights ; sh:minCount 1 ; sh:maxCount 1 ; sh:nodeKind sh:IRI ] ;
  sh:property [ sh:path dct:temporal ; sh:class dct:PeriodOfTime ] ;
  sh:property [ sh:path healthdcatap:numberOfRecords ; sh:maxCount 1 ; sh:datatype xsd:nonNegativeInteger ] ;
  sh:property [ sh:path healthdcatap:numberOfUniqueIndividuals ; sh:maxCount 1 ; sh:datatype xsd:nonNegativeInteger ] ;
  sh:property [ sh:path healthdcatap:hasCodingSystem ; sh:nodeKind sh:IRI ] ;
  sh:property [ sh:path dcat:distribution ; sh:class dcat:Distribution ] .
"""


def test_given_dcat_then_it_conforms_to_the_healthdcat_shape_and_a_broken_one_does_not(
    researcher: httpx.Client,
) -> None:
    pyshacl = pytest.importorskip("pyshacl")
    shapes = Graph().parse(data=SHAPES, format="turtle")
    g = Graph().parse(data=researcher.get("/api/datasets/clinical_records/dcat").text, format="json-ld")
    conforms, _, text = pyshacl.validate(g, shacl_graph=shapes)
    assert conforms, text
    ds = next(g.subjects(RDF.type, DCAT.Dataset))
    g.remove((ds, DCTERMS.publisher, None))  # a planted defect: the shape must catch it
    g.add((ds, HEALTH.numberOfRecords, Literal("many")))
    conforms, _, _ = pyshacl.validate(g, shacl_graph=shapes)
    assert not conforms

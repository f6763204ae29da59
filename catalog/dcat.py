"""A dataset's description in HealthDCAT-AP (the health extension of DCAT-AP), built as an RDF graph with rdflib.

`dataset_graph(metadata, base_url)` takes the dictionary `catalog.dataset_metadata.describe` returns and gives
an `rdflib.Graph`; the route serialises it as JSON-LD (default) or Turtle. HealthDCAT-AP is still a draft: the
namespace and properties follow the released draft (`http://healthdataportal.eu/ns/health#`) as CKAN's
ckanext-dcat implements it; vocabularies are the EU Publications Office authority tables (access rights,
frequency), the W3C Data Privacy Vocabulary (legal basis, purpose, personal data) and Wikidata entities for
coding systems.
"""

from __future__ import annotations

from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, XSD

HEALTHDCATAP = Namespace("http://healthdataportal.eu/ns/health#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
DPV = Namespace("https://w3id.org/dpv#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
EHDS = URIRef("http://data.europa.eu/eli/reg/2025/327/oj")  # Regulation (EU) 2025/327, the EHDS

JSONLD_CONTEXT = {
    "dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "xsd": str(XSD), "rdfs": str(RDFS),
    "healthdcatap": str(HEALTHDCATAP), "dcatap": str(DCATAP), "dpv": str(DPV), "vcard": str(VCARD),
}


def _bind(g: Graph) -> None:
    for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("healthdcatap", HEALTHDCATAP),
                       ("dcatap", DCATAP), ("dpv", DPV), ("vcard", VCARD), ("xsd", XSD)):
        g.bind(prefix, ns)


def dataset_graph(meta: dict[str, Any], base_url: str) -> Graph:
    g = Graph()
    _bind(g)
    base = base_url.rstrip("/")
    ds = URIRef(f"{base}/api/datasets/{meta['id']}")
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.identifier, Literal(meta["id"])))
    g.add((ds, DCTERMS.title, Literal(meta["title"], lang="en")))
    g.add((ds, DCTERMS.description, Literal(meta["description"] or meta["title"], lang="en")))
    g.add((ds, DCAT.landingPage, URIRef(f"{base}/#/dataset/{meta['id']}")))
    g.add((ds, DCTERMS.accessRights, ACCESS_RIGHT.NON_PUBLIC))
    g.add((ds, DCATAP.applicableLegislation, EHDS))
    g.add((ds, DCTERMS.accrualPeriodicity, FREQUENCY.CONT))
    for keyword in meta.get("keywords", []):
        g.add((ds, DCAT.keyword, Literal(keyword, lang="en")))
    _add_agents(g, ds, meta, base)
    _add_coverage(g, ds, meta)
    _add_health(g, ds, meta)
    _add_distribution(g, ds, meta, base)
    return g


def _add_agents(g: Graph, ds: URIRef, meta: dict[str, Any], base: str) -> None:
    """The publisher (an agent and a contact point) and each contributing hospital as a creator."""
    publisher = URIRef(f"{base}/#publisher")
    g.add((ds, DCTERMS.publisher, publisher))
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, Literal(meta["publisher"]["name"], lang="en")))
    contact = BNode()
    g.add((ds, DCAT.contactPoint, contact))
    g.add((contact, RDF.type, VCARD.Organization))
    g.add((contact, VCARD.fn, Literal(meta["publisher"]["name"])))
    for h in meta.get("hospitals", []):
        creator = URIRef(f"{base}/#hospital-{h['id']}")
        g.add((ds, DCTERMS.creator, creator))
        g.add((creator, RDF.type, FOAF.Organization))
        g.add((creator, FOAF.name, Literal(h["name"], lang="en")))


def _add_coverage(g: Graph, ds: URIRef, meta: dict[str, Any]) -> None:
    """The temporal coverage (when known) and the last update."""
    coverage = meta.get("coverage") or {}
    if coverage.get("start") or coverage.get("end"):
        period = BNode()
        g.add((ds, DCTERMS.temporal, period))
        g.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if coverage.get("start"):
            g.add((period, DCAT.startDate, Literal(coverage["start"], datatype=XSD.date)))
        if coverage.get("end"):
            g.add((period, DCAT.endDate, Literal(coverage["end"], datatype=XSD.date)))
    if meta.get("freshness", {}).get("last_update"):
        g.add((ds, DCTERMS.modified, Literal(meta["freshness"]["last_update"], datatype=XSD.dateTime)))


def _add_health(g: Graph, ds: URIRef, meta: dict[str, Any]) -> None:
    """HealthDCAT-AP's counts and coding systems, and the DPV legal bases, purposes and personal data."""
    g.add((ds, HEALTHDCATAP.numberOfRecords, Literal(int(meta["rows"]), datatype=XSD.nonNegativeInteger)))
    g.add((ds, HEALTHDCATAP.numberOfUniqueIndividuals,
           Literal(int(meta["patients"]), datatype=XSD.nonNegativeInteger)))
    for system in meta.get("coding_systems", []):
        if system.get("uri"):
            g.add((ds, HEALTHDCATAP.hasCodingSystem, URIRef(system["uri"])))
    for basis in meta["access"]["legal_bases"]:
        g.add((ds, DPV.hasLegalBasis, URIRef(basis["uri"])))
    for purpose in meta["access"]["purposes"]:
        g.add((ds, DPV.hasPurpose, URIRef(purpose["uri"])))
    g.add((ds, DPV.hasPersonalData, DPV.HealthRecord))


def _add_distribution(g: Graph, ds: URIRef, meta: dict[str, Any], base: str) -> None:
    """The one distribution: the query sandbox, with its tier and the access rights."""
    dist = URIRef(f"{ds}#sandbox")
    g.add((ds, DCAT.distribution, dist))
    g.add((dist, RDF.type, DCAT.Distribution))
    g.add((dist, DCTERMS.title, Literal(f"Query sandbox ({meta['tier']} tier)", lang="en")))
    g.add((dist, DCAT.accessURL, URIRef(f"{base}/api/query")))
    g.add((dist, DCTERMS.rights, Literal(meta["access"]["rights"], lang="en")))


def serialise(graph: Graph, turtle: bool) -> str:
    if turtle:
        return graph.serialize(format="turtle")
    return graph.serialize(format="json-ld", context=JSONLD_CONTEXT, indent=2)

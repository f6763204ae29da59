"""The policy-enforced query sandbox: dataset tiers, SQL guard, disclosure control, differencing, executor.

Public surface used by the catalog's ``POST /api/query`` route::

    from policies.sandbox import (
        GrantScope, QueryHistory, QueryRefused, grant_scope_from_catalog, load_dataset_policies, run_query,
    )
"""

from policies.sandbox.differencing import QueryHistory
from policies.sandbox.errors import QueryRefused
from policies.sandbox.executor import QueryOutcome, export_rows, run_query, sql_hash
from policies.sandbox.fingerprint_store import FingerprintStore
from policies.sandbox.scope import GrantScope, grant_scope_from_catalog
from policies.sandbox.sql_guard import GuardedQuery, check
from policies.sandbox.tiers import (
    DatasetPolicies,
    DatasetPolicy,
    PolicyFileError,
    Tier,
    load_dataset_policies,
    parse_dataset_policies,
)

__all__ = [
    "DatasetPolicies",
    "DatasetPolicy",
    "FingerprintStore",
    "GrantScope",
    "GuardedQuery",
    "PolicyFileError",
    "QueryHistory",
    "QueryOutcome",
    "QueryRefused",
    "Tier",
    "check",
    "export_rows",
    "grant_scope_from_catalog",
    "load_dataset_policies",
    "parse_dataset_policies",
    "run_query",
    "sql_hash",
]

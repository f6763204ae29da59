"""The SQL guard: one SELECT over granted tables and columns, or a refusal that says why.

``check(sql, scope)`` parses with sqlglot (dialect duckdb), refuses anything that is not exactly one
SELECT statement (WITH and UNION/INTERSECT/EXCEPT of SELECTs included), qualifies every column with
sqlglot's optimizer against the real columns of the granted tables (which expands ``*``, ``t.*``,
``USING`` and ``NATURAL`` joins the way DuckDB does), and checks that every column read from a dataset
table is granted. Every function must be on the allow-list in :mod:`policies.sandbox.functions`.

What runs afterwards is the SQL regenerated from the checked tree (``GuardedQuery.sql``), never the text
that came in, so the parser and the database cannot disagree about what was checked. Refusal reasons name
rules, positions and catalog names only, never SQL literals or data.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.tokens import TokenType

from policies.sandbox.errors import QueryRefused, Refusal
from policies.sandbox.functions import ALL_AGGREGATES, ANONYMOUS_FUNCTIONS, SCALAR_FUNCTIONS
from policies.sandbox.scope import DATASET_SCHEMA, GrantScope

DIALECT = "duckdb"
MAX_SQL_LENGTH = 20_000
# Names the sandbox itself uses for the hidden lineage and bookkeeping columns it adds to a query. No identifier
# of a researcher's query (column, alias, table or CTE name, quoted or not, in any case) and no string literal may
# carry the prefix, so nothing the researcher writes can produce, shadow or read those columns. The sandbox's own
# names also carry a random per-query part (see lineage.py), a second barrier.
RESERVED_PREFIX = "__hds"

_FIRST_TOKENS = {TokenType.SELECT, TokenType.WITH, TokenType.FROM, TokenType.L_PAREN}

# Schemas and catalog tables that are never queryable, named in refusals because they are not data.
_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "governance", "hds_internal", "system", "temp"}
_SYSTEM_TABLE_PREFIXES = ("duckdb_", "pg_", "sqlite_", "pragma_")

# Node types refused wherever they appear, with the public reason.
_FORBIDDEN_NODES: tuple[tuple[type[exp.Expr], str], ...] = tuple(
    (node_type, reason)
    for name, reason in (
        ("Command", "only SELECT statements are allowed"),
        ("DDL", "only SELECT statements are allowed"),
        ("DML", "only SELECT statements are allowed"),
        ("Insert", "only SELECT statements are allowed"),
        ("Update", "only SELECT statements are allowed"),
        ("Delete", "only SELECT statements are allowed"),
        ("Merge", "only SELECT statements are allowed"),
        ("Create", "only SELECT statements are allowed"),
        ("Drop", "only SELECT statements are allowed"),
        ("Alter", "only SELECT statements are allowed"),
        ("Pragma", "PRAGMA is not allowed"),
        ("Set", "SET is not allowed"),
        ("Copy", "COPY is not allowed"),
        ("Attach", "ATTACH is not allowed"),
        ("Detach", "DETACH is not allowed"),
        ("Install", "INSTALL is not allowed"),
        ("Use", "USE is not allowed"),
        ("Describe", "only SELECT statements are allowed"),
        ("Summarize", "only SELECT statements are allowed"),
        ("Into", "SELECT INTO is not allowed"),
        ("Placeholder", "query parameters are not allowed"),
        ("Parameter", "query parameters are not allowed"),
        ("SessionParameter", "session parameters are not allowed"),
        ("PositionalColumn", "positional column references (#n) are not allowed"),
        ("Lambda", "lambda expressions are not allowed"),
        ("Pivot", "PIVOT/UNPIVOT is not allowed"),
        ("Unpivot", "PIVOT/UNPIVOT is not allowed"),
        ("Columns", "COLUMNS(...) expressions are not allowed"),
        ("Unnest", "UNNEST is not allowed"),
        ("Lateral", "LATERAL is not allowed"),
        ("Dot", "struct field access is not allowed"),
        ("TableColumn", "whole-row references are not allowed"),
        ("Kwarg", "named function arguments are not allowed"),
        ("PropertyEQ", "named function arguments are not allowed"),
        ("Connect", "CONNECT BY is not allowed"),
        ("TableSample", "SAMPLE/TABLESAMPLE is not allowed"),
    )
    if (node_type := getattr(exp, name, None)) is not None
)


@dataclass(frozen=True)
class GuardedQuery:
    """A query the guard accepted: the qualified tree, the SQL to run, what it reads and returns."""

    expression: exp.Query
    sql: str
    datasets: frozenset[str]
    columns_used: dict[str, frozenset[str]]
    output_columns: tuple[str, ...]


def _where(node: exp.Expr) -> str:
    """A position for refusal messages: 'line L, column C' when sqlglot kept one."""
    for candidate in (node, *node.find_all(exp.Identifier)):
        meta = candidate.meta if candidate.meta else {}
        if "line" in meta and "col" in meta:
            return f" (line {meta['line']}, column {meta['col']})"
    return ""


def function_name(node: exp.Func) -> str:
    """Canonical name used by the allow-list: sqlglot's name, or the lower-case name of an unknown function."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name()


def _parse(sql: str) -> exp.Expr:
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRefused("the query is empty", code="empty", kind=Refusal.INVALID)
    if len(sql) > MAX_SQL_LENGTH:
        raise QueryRefused(f"the query is longer than {MAX_SQL_LENGTH} characters", code="too_long", kind=Refusal.INVALID)
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    except SqlglotError:
        raise QueryRefused("the query could not be tokenised", code="syntax", kind=Refusal.INVALID) from None
    meaningful = [t for t in tokens if t.token_type != TokenType.SEMICOLON]
    if not meaningful:
        raise QueryRefused("the query is empty", code="empty", kind=Refusal.INVALID)
    # Any semicolon before the last meaningful token means a second statement; refuse before sqlglot
    # falls back to parsing (and logging) an unsupported command.
    last = meaningful[-1]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON and token.start < last.start:
            raise QueryRefused("exactly one statement is allowed", code="multiple_statements", kind=Refusal.INVALID)
    if meaningful[0].token_type not in _FIRST_TOKENS:
        if meaningful[0].token_type in (TokenType.VAR, TokenType.IDENTIFIER, TokenType.STRING, TokenType.NUMBER):
            # Not a statement keyword at all (a typo such as "SELEC"): a syntax error, not a forbidden statement.
            raise QueryRefused("syntax error: a query starts with SELECT, WITH or FROM", code="syntax", kind=Refusal.INVALID)
        raise QueryRefused("only SELECT statements are allowed", code="not_select")
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except SqlglotError:
        raise QueryRefused("the query could not be parsed", code="syntax", kind=Refusal.INVALID) from None
    if len(statements) != 1:
        raise QueryRefused("exactly one statement is allowed", code="multiple_statements", kind=Refusal.INVALID)
    return statements[0]


def _check_nodes(root: exp.Expr, scope: GrantScope) -> None:
    if not isinstance(root, (exp.Select, exp.SetOperation)):
        raise QueryRefused("only SELECT statements are allowed", code="not_select")
    cte_names = {cte.alias_or_name.lower() for cte in root.find_all(exp.CTE)}
    for node in root.walk():
        if isinstance(node, exp.Identifier) and _reserved(str(node.this)):
            raise QueryRefused(f"identifiers containing {RESERVED_PREFIX} are reserved{_where(node)}", code="reserved_name")
        if isinstance(node, exp.Literal) and node.is_string and RESERVED_PREFIX in str(node.this).casefold():
            raise QueryRefused(f"strings containing {RESERVED_PREFIX} are reserved", code="reserved_name")
        if isinstance(node, exp.TableAlias) and node.args.get("columns"):
            raise QueryRefused(f"column alias lists on tables are not allowed{_where(node)}", code="forbidden_construct")
        for node_type, reason in _FORBIDDEN_NODES:
            if isinstance(node, node_type):
                raise QueryRefused(reason + _where(node), code="forbidden_construct")
        if isinstance(node, exp.With) and node.args.get("recursive"):
            raise QueryRefused("recursive CTEs are not allowed", code="forbidden_construct")
        if isinstance(node, exp.Func) and not isinstance(node, exp.Connector):  # AND/OR/XOR are operators
            name = function_name(node)
            allowed = name in SCALAR_FUNCTIONS or name in ALL_AGGREGATES
            if isinstance(node, exp.Anonymous):
                allowed = name in ANONYMOUS_FUNCTIONS
            if not allowed:
                raise QueryRefused(
                    f"function {name.upper()} is not on the sandbox allow-list{_where(node)}", code="function"
                )
        if isinstance(node, exp.Table):
            _check_table(node, scope, cte_names)
        if isinstance(node, exp.Column) and (node.args.get("db") or node.args.get("catalog")):
            raise QueryRefused("schema- or database-qualified column references are not allowed", code="qualifier")


def _reserved(name: str) -> bool:
    # Anywhere in the name, case-folded (DuckDB compares identifiers case-insensitively, quoted or not).
    return RESERVED_PREFIX in name.casefold()


def _check_table(node: exp.Table, scope: GrantScope, cte_names: set[str]) -> None:
    if not isinstance(node.this, exp.Identifier):
        raise QueryRefused(
            f"table functions and file or URL sources are not allowed{_where(node)}", code="table_function"
        )
    if node.args.get("catalog"):
        raise QueryRefused(f"other databases cannot be referenced{_where(node)}", code="qualifier")
    schema = (node.db or "").lower()
    name = node.name.lower()
    if schema in _SYSTEM_SCHEMAS or name in _SYSTEM_SCHEMAS:
        raise QueryRefused(f"system and governance catalogs are not queryable{_where(node)}", code="system_catalog")
    if schema and schema != DATASET_SCHEMA:
        raise QueryRefused(f"only dataset tables in schema main can be referenced{_where(node)}", code="qualifier")
    if not schema and name in cte_names:
        return
    if name.startswith(_SYSTEM_TABLE_PREFIXES) or name in {"sqlite_master", "sqlite_schema"}:
        raise QueryRefused(f"system and governance catalogs are not queryable{_where(node)}", code="system_catalog")
    if name not in scope.datasets:
        raise QueryRefused(f"a table{_where(node)} is not a dataset covered by this grant", code="dataset_not_granted")
    if not scope.real_columns(name):
        raise QueryRefused(f"dataset {name} is not in the catalog", code="dataset_missing", kind=Refusal.NOT_FOUND)


def _qualified(root: exp.Expr, scope: GrantScope) -> exp.Expr:
    tree = root.copy()
    for table in tree.find_all(exp.Table):
        if (table.db or "").lower() == DATASET_SCHEMA:
            table.set("db", None)
    mapping: dict[str, object] = {
        dataset: {column: "VARCHAR" for column in scope.real_columns(dataset)}
        for dataset in scope.datasets
        if scope.real_columns(dataset)
    }
    try:
        return qualify(
            tree,
            schema=mapping,
            dialect=DIALECT,
            validate_qualify_columns=True,
            quote_identifiers=True,
            identify=True,
        )
    except (OptimizeError, SqlglotError):
        raise QueryRefused(
            "a column could not be resolved: it is unknown, ambiguous or not granted", code="unresolved_column"
        ) from None


def _source_of(scope: Scope, table_alias: str) -> exp.Table | Scope | None:
    current: Scope | None = scope
    while current is not None:
        if table_alias in current.sources:
            return current.sources[table_alias]
        current = current.parent
    return None


def _check_columns(tree: exp.Expr, scope: GrantScope) -> tuple[frozenset[str], dict[str, set[str]]]:
    datasets: set[str] = set()
    used: dict[str, set[str]] = {}
    try:
        scopes = traverse_scope(tree)
    except (OptimizeError, SqlglotError):
        raise QueryRefused("the query structure could not be analysed", code="unanalysable", kind=Refusal.INVALID) from None
    for sc in scopes:
        for source in sc.sources.values():
            if isinstance(source, exp.Table):
                datasets.add(source.name.lower())
                source.set("db", exp.to_identifier(DATASET_SCHEMA, quoted=True))
        for column in sc.columns:
            if not column.table:
                raise QueryRefused("a column could not be resolved to a table", code="unresolved_column")
            resolved = _source_of(sc, column.table)
            if resolved is None:
                raise QueryRefused("a column refers to an unknown table alias", code="unresolved_column")
            if isinstance(resolved, Scope):
                continue  # derived tables and CTEs only expose what their own (checked) scope computes
            dataset = resolved.name.lower()
            name = column.name.lower()
            if name not in scope.real_columns(dataset):
                raise QueryRefused(f"unknown column in dataset {dataset}", code="unresolved_column")
            if not scope.is_granted(dataset, name):
                raise QueryRefused(f"column {name} of dataset {dataset} is not granted", code="column_not_granted")
            used.setdefault(dataset, set()).add(name)
    _check_unqualified(tree)
    for star in tree.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count):
            raise QueryRefused("a * could not be expanded to granted columns", code="unresolved_column")
    return frozenset(datasets), used


def _check_unqualified(tree: exp.Expr) -> None:
    """An unqualified column left after qualification may only be a *bare* ORDER BY item naming an output
    alias: DuckDB binds a bare ORDER BY name to the alias first, but a name inside an expression
    (``ORDER BY alias || ''``) or a window to the table column, which may not be granted."""
    for column in tree.find_all(exp.Column):
        if column.table:
            continue
        ordered = column.parent
        order = ordered.parent if isinstance(ordered, exp.Ordered) else None
        query = order.parent if isinstance(order, exp.Order) else None
        if (
            isinstance(ordered, exp.Ordered)
            and ordered.this is column
            and isinstance(query, (exp.Select, exp.SetOperation))
            and query.args.get("order") is order
            and column.name in query.named_selects
        ):
            continue
        raise QueryRefused(
            "a column could not be resolved to a table (output aliases may only be used bare in ORDER BY)",
            code="unresolved_column",
        )


def check(sql: str, scope: GrantScope) -> GuardedQuery:
    """Accept one SELECT over granted tables and columns, or raise :class:`QueryRefused`.

    Any unexpected failure while analysing the query is a refusal too (fail closed)."""
    try:
        return _check(sql, scope)
    except QueryRefused:
        raise
    except Exception:  # noqa: BLE001 - an analysis we cannot finish is a query we do not run
        raise QueryRefused("the query could not be analysed", code="unanalysable", kind=Refusal.INVALID) from None


def _check(sql: str, scope: GrantScope) -> GuardedQuery:
    root = _parse(sql)
    _check_nodes(root, scope)
    tree = _qualified(root, scope)
    _check_nodes(tree, scope)  # qualification must not have introduced anything new
    datasets, used = _check_columns(tree, scope)
    assert isinstance(tree, exp.Query)
    return GuardedQuery(
        expression=tree,
        sql=tree.sql(dialect=DIALECT),
        datasets=datasets,
        columns_used={k: frozenset(v) for k, v in used.items()},
        output_columns=tuple(tree.named_selects),
    )

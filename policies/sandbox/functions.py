"""The function allow-list of the query sandbox.

Every function call in a researcher's SQL must be listed here, by sqlglot's canonical name for functions
sqlglot models (``Count`` -> ``COUNT``) or by its lower-case DuckDB name for the ones it does not
(``date_part``). Anything else (``getenv``, ``current_setting``, ``read_csv``, ``duckdb_tables``,
``query_table``, ``hash``, ``random`` ...) is refused: an allow-list fails closed when DuckDB adds a
function, a deny-list fails open.
"""

from __future__ import annotations

# Scalar functions and constructs, by sqlglot canonical name.
SCALAR_FUNCTIONS: frozenset[str] = frozenset(
    {
        # conditionals and types
        "CAST",
        "TRY_CAST",
        "CASE",
        "IF",
        "COALESCE",
        "NULLIF",
        "GREATEST",
        "LEAST",
        "EXISTS",
        # text
        "LOWER",
        "UPPER",
        "TRIM",
        "LENGTH",
        "SUBSTRING",
        "CONCAT",
        "CONCAT_WS",
        "LEFT",
        "RIGHT",
        "SPLIT_PART",
        "STARTS_WITH",
        "CONTAINS",
        "REPLACE",
        "STR_POSITION",
        "REGEXP_LIKE",
        "LPAD",
        "RPAD",
        "PAD",  # lpad/rpad, as sqlglot names them; lengths limited in resources.py
        # dates and times
        "YEAR",
        "MONTH",
        "DAY",
        "QUARTER",
        "WEEK",
        "WEEK_OF_YEAR",
        "DAY_OF_WEEK",
        "DAY_OF_YEAR",
        "EXTRACT",
        "TIMESTAMP_TRUNC",
        "DATE_TRUNC",
        "DATEDIFF",
        "DATE_DIFF",
        "TIME_TO_STR",
        "STR_TO_TIME",
        "STR_TO_DATE",
        "DATE_FROM_PARTS",
        "DATE_ADD",
        "DATE_SUB",
        "CURRENT_DATE",
        "CURRENT_TIMESTAMP",
        "TIME_TO_UNIX",
        "TS_OR_DS_TO_DATE",
        "DATE",
        # numbers
        "ROUND",
        "ABS",
        "FLOOR",
        "CEIL",
        "SQRT",
        "LN",
        "LOG",
        "EXP",
        "POWER",
        "SIGN",
    }
)

# Functions sqlglot does not model (parsed as ``Anonymous``), by lower-case DuckDB name.
ANONYMOUS_FUNCTIONS: frozenset[str] = frozenset({"date_part", "datepart", "today", "now", "strlen", "reverse"})

# Aggregates allowed in the aggregate tier: each output value is a sum-like statistic over its cell, whose
# per-patient contributions the contribution rules check (threshold, dominance, p-ratio).
# Order statistics (MIN, MAX, MEDIAN, quantiles, MODE) and collectors (LIST, STRING_AGG, FIRST, ANY_VALUE,
# ARG_MAX ...) release one individual's value, so they are record-tier only; STDDEV/VARIANCE have no additive
# per-patient contribution the dominance rules could check, so they are record-tier only too.
AGGREGATE_TIER_AGGREGATES: frozenset[str] = frozenset({"COUNT", "SUM", "AVG"})

# Aggregates whose released value is itself a count (checked against min_cell_count and rounded).
COUNTING_AGGREGATES: frozenset[str] = frozenset({"COUNT"})

# Aggregates whose released value is rounded per policy.
ROUNDED_AGGREGATES: frozenset[str] = frozenset({"COUNT", "SUM"})

# Aggregates allowed in the record and extract tiers (rows are visible there anyway).
RECORD_TIER_AGGREGATES: frozenset[str] = AGGREGATE_TIER_AGGREGATES | frozenset(
    {
        "STDDEV",
        "STDDEV_SAMP",
        "STDDEV_POP",
        "VARIANCE",
        "VARIANCE_POP",
        "MIN",
        "MAX",
        "MEDIAN",
        "MODE",
        "COUNT_IF",
        "PERCENTILE_CONT",
        "PERCENTILE_DISC",
        "QUANTILE",
        "LOGICAL_AND",
        "LOGICAL_OR",
        "APPROX_DISTINCT",
    }
)

ALL_AGGREGATES: frozenset[str] = RECORD_TIER_AGGREGATES

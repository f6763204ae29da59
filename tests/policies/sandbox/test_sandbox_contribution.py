"""The contribution rules against the acro package itself, and against ACRO's documented defaults."""

from __future__ import annotations

import logging
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.sandbox.contribution import RuleParameters, failed_rule, summarise

acro = pytest.importorskip("acro")
pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def checker():  # type: ignore[no-untyped-def]
    logging.getLogger("acro").setLevel(logging.ERROR)
    return acro.ACRO(suppress=True)


cells = st.lists(
    st.lists(st.floats(min_value=0.5, max_value=10_000, allow_nan=False), min_size=1, max_size=30),
    min_size=1, max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells)
def test_given_positive_contributions_then_verdicts_equal_acro(checker, contributions) -> None:
    rows = [(f"c{i}", value) for i, cell in enumerate(contributions) for value in cell]
    frame = pd.DataFrame(rows, columns=["cell", "v"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = checker.pivot_table(frame, index="cell", values="v", aggfunc="sum")
    for i, cell in enumerate(contributions):
        acro_suppressed = bool(pd.isna(table.loc[f"c{i}"].iloc[0]))
        ours = failed_rule(summarise(cell), RuleParameters()) is not None
        assert ours == acro_suppressed, (cell, failed_rule(summarise(cell), RuleParameters()))


@pytest.mark.parametrize(
    ("contributions", "expected"),
    [
        ([1.0] * 12, None),  # 12 equal contributors
        ([1.0] * 9, "threshold"),  # below the threshold of 10
        ([1.0] * 3 + [0.0] * 20, "threshold"),  # zeros are non-contributors
        ([1000.0] + [1.0] * 11, "dominance"),  # one contributor holds over 90 %
        ([500.0, 500.0] + [1.0] * 10, "dominance"),  # two together hold over 90 %
    ],
)
def test_given_acro_documented_cases_then_rule_outcomes(contributions, expected) -> None:
    assert failed_rule(summarise(contributions), RuleParameters()) == expected


def test_given_a_looser_dominance_k_then_the_p_ratio_rule_still_catches_a_close_second() -> None:
    """With ACRO's defaults the p-ratio is implied by n=2, k=0.9; with k=0.99 it is the rule that bites."""
    cell = summarise([100.0, 50.0] + [0.9] * 10)  # the rest, 9, is under 10 % of the largest
    assert failed_rule(cell, RuleParameters(dominance_k=0.99)) == "p_ratio"
    assert failed_rule(summarise([100.0, 50.0] + [1.5] * 10), RuleParameters(dominance_k=0.99)) is None

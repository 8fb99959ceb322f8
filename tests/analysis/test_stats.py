"""The report's statistics on tiny hand-computed arrays, and against scipy where it has them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from green_ai.analysis import stats


def test_eta_squared_formula() -> None:
    # (H - k + 1) / (n - k) = (10 - 3 + 1) / (20 - 3)
    assert stats.eta_squared_h(10.0, 20, 3) == pytest.approx(8 / 17)
    # Thesis Table 3.4 (convolutional, two levels): H = 2303.25, η² = 0.749 → n ≈ 3076.
    assert stats.eta_squared_h(2303.25, 3076, 2) == pytest.approx(0.749, abs=5e-4)
    assert math.isnan(stats.eta_squared_h(1.0, 2, 2))


@pytest.mark.parametrize(
    ("eta2", "label"),
    [
        (0.0, "negligible"),
        (0.009, "negligible"),
        (0.01, "small"),
        (0.033, "small"),  # Table 3.4, ReLU
        (0.06, "medium"),
        (0.139, "medium"),
        (0.14, "large"),
        (0.155, "large"),  # Table 3.4, linear
        (-0.2, "negligible"),
        (float("nan"), "n/a"),
    ],
)
def test_effect_magnitude_thresholds(eta2: float, label: str) -> None:
    assert stats.effect_magnitude(eta2) == label


def test_kruskal_by_hand_and_against_scipy() -> None:
    # Ranks 1..6 split 1-3 | 4-6: H = 12/(6·7)·(6²/3 + 15²/3) − 3·7 = 27/7.
    res = stats.kruskal_wallis([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert res.statistic == pytest.approx(27 / 7)
    assert res.eta2 == pytest.approx((27 / 7 - 1) / 4)
    assert res.magnitude == "large"
    assert (res.n, res.k) == (6, 2)
    assert res.p == pytest.approx(sps.kruskal([1, 2, 3], [4, 5, 6]).pvalue)


def test_kruskal_with_ties_matches_scipy() -> None:
    groups = [[1.0, 1.0, 2.0, 5.0], [2.0, 3.0, 3.0], [4.0, 6.0, 6.0, 7.0, 1.0]]
    res = stats.kruskal_wallis(groups)
    ref = sps.kruskal(*groups)
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.p == pytest.approx(ref.pvalue)
    assert res.eta2 == pytest.approx((ref.statistic - 3 + 1) / (12 - 3))


def test_kruskal_undefined_for_one_group_or_constant_data() -> None:
    assert math.isnan(stats.kruskal_wallis([[1.0, 2.0]]).statistic)
    assert stats.kruskal_wallis([[2.0, 2.0], [2.0]]).magnitude == "n/a"


def test_shapiro_against_scipy_and_small_samples() -> None:
    x = [2.1, 3.4, 1.9, 5.6, 4.4, 3.3, 2.8]
    w, p = stats.shapiro_wilk(x)
    ref = sps.shapiro(x)
    assert w == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue)
    assert all(math.isnan(v) for v in stats.shapiro_wilk([1.0, 2.0]))
    assert all(math.isnan(v) for v in stats.shapiro_wilk([3.0, 3.0, 3.0]))


def test_dunn_two_groups_by_hand() -> None:
    # No ties, mean ranks 2 and 5: z = 3 / sqrt(6·7/12 · (1/3 + 1/3)); p two-sided.
    z = 3 / math.sqrt(6 * 7 / 12 * (2 / 3))
    expected = 2 * sps.norm.sf(z)
    pairs = stats.dunn_pairs([1, 2, 3, 4, 5, 6], ["a", "a", "a", "b", "b", "b"], "holm")
    assert list(pairs[["a", "b"]].itertuples(index=False, name=None)) == [("a", "b")]
    assert pairs["p"].iloc[0] == pytest.approx(expected)


def test_dunn_holm_adjusts_within_the_family() -> None:
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    groups = ["1"] * 3 + ["4"] * 3 + ["10"] * 3
    bonferroni = stats.dunn_pairs(values, groups, "bonferroni")
    holm = stats.dunn_pairs(values, groups, "holm")
    # Natural order of levels: 1 < 4 < 10.
    pairs = list(zip(holm["a"], holm["b"], strict=True))
    assert pairs == [("1", "4"), ("1", "10"), ("4", "10")]
    # Holm never exceeds Bonferroni; both multiply the smallest p by the family size (3).
    assert (holm["p"] <= bonferroni["p"] + 1e-12).all()
    assert holm["p"].min() == pytest.approx(bonferroni["p"].min())
    # Without correction the 1-vs-10 pair: mean ranks 2 and 8, z = 6 / sqrt(9·10/12 · 2/3).
    z = 6 / math.sqrt(9 * 10 / 12 * (2 / 3))
    assert bonferroni["p"].min() == pytest.approx(min(1.0, 3 * 2 * sps.norm.sf(z)))


def test_mean_increase_against_lowest_level() -> None:
    table = stats.mean_increase([1.0, 1.0, 3.0, 3.0, 2.0], [1, 1, 4, 4, 2])
    assert list(table["to_level"]) == [2, 4]
    assert list(table["increase_pct"]) == pytest.approx([100.0, 200.0])
    assert table["mean_from_j"].iloc[0] == pytest.approx(1.0)


def test_two_means_split_finds_the_gap() -> None:
    assert stats.two_means_split([1.0, 2.0, 3.0, 10.0, 11.0]) == pytest.approx(6.5)
    assert stats.two_means_split([11.0, 1.0, 1.0, 1.0, 5.0]) == pytest.approx(8.0)
    assert math.isnan(stats.two_means_split([2.0, 2.0]))


def test_two_means_split_is_the_least_squares_optimum() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(10, 1, 20), rng.normal(20, 1, 7)])
    t = stats.two_means_split(x)

    def sse(threshold: float) -> float:
        lo, hi = x[x <= threshold], x[x > threshold]
        return float(((lo - lo.mean()) ** 2).sum() + ((hi - hi.mean()) ** 2).sum())

    s = np.sort(x)
    assert all(sse(t) <= sse((a + b) / 2) + 1e-9 for a, b in zip(s[:-1], s[1:], strict=True))
    assert (x > t).sum() == 7


def test_median_split() -> None:
    assert stats.median_split([1.0, 5.0, 3.0, float("nan")]) == pytest.approx(3.0)


def test_best_so_far_skips_failed_rounds() -> None:
    out = stats.best_so_far([0.5, float("nan"), 0.4, 0.7])
    assert list(out) == pytest.approx([0.5, 0.5, 0.5, 0.7])
    lead = stats.best_so_far([float("nan"), 0.3])
    assert math.isnan(lead[0]) and lead[1] == pytest.approx(0.3)


def test_first_reached() -> None:
    assert stats.first_reached([0.1, 0.5, 0.5], 0.5) == 1
    assert stats.first_reached([0.1, float("nan")], 0.5) is None


def test_energy_to_target_within_one_percent() -> None:
    acc, energy = [0.5, 0.7, 0.69, 0.71], [10.0, 20.0, 30.0, 40.0]
    # 1%: target 0.71·0.99 = 0.7029, first met by round 3 (0-based) → all 100 J.
    idx, target, spent = stats.energy_to_target(acc, energy, 1.0)
    assert idx == 3
    assert spent == pytest.approx(100.0)
    assert target == pytest.approx(0.7029)
    # 2%: target 0.6958, met by round 1 → 30 J.
    idx, _, spent = stats.energy_to_target(acc, energy, 2.0)
    assert idx == 1
    assert spent == pytest.approx(30.0)


def test_energy_to_target_missing_energy_is_nan_not_zero() -> None:
    idx, _, spent = stats.energy_to_target([0.2, 0.9], [float("nan"), 5.0], 1.0)
    assert idx == 1 and math.isnan(spent)
    assert stats.energy_to_target([float("nan")], [1.0], 1.0)[0] is None


def test_relative_change() -> None:
    assert list(stats.relative_change_pct([2.0, 3.0, 1.0], 2.0)) == pytest.approx([0, 50, -50])


def test_qq_points_match_probplot_of_standardised_data() -> None:
    x = np.array([4.0, 1.0, 3.0, 8.0, 5.0])
    theoretical, ordered = stats.qq_points(x)
    z = (x - x.mean()) / x.std(ddof=1)
    (ref_t, ref_o), _ = sps.probplot(z)
    assert theoretical == pytest.approx(ref_t)
    assert ordered == pytest.approx(np.sort(z))
    assert theoretical == pytest.approx(-theoretical[::-1])
    assert stats.qq_points([1.0])[0].size == 0

"""Statistics and report: IQM and stratified-bootstrap intervals, no interval from < 3 seeds,
summary.md's compact tables and header, figures as PNG (>= 150 dpi) and SVG, distinguishable lines."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import seqrl
from seqrl.scenarios.report import FIGURE_DPI, result_tables, summarise
from seqrl.scenarios.statistics import (
    MIN_SEEDS_FOR_INTERVAL,
    estimate,
    iqm,
    paired_comparison,
    stratified_bootstrap_interval,
)

matplotlib.use("Agg")


def direct_iqm(values):
    """The mean of the sorted values with the lowest and highest quarter (floor(n/4)) dropped."""
    ordered = np.sort(values)
    cut = len(ordered) // 4
    return ordered[cut : len(ordered) - cut].mean()


@pytest.mark.parametrize("n", [4, 8, 10, 13])
def test_iqm_is_the_mean_of_the_middle_half(n):
    values = np.random.default_rng(n).standard_cauchy(n)
    assert iqm(values) == pytest.approx(direct_iqm(values))
    assert iqm(values) == pytest.approx(stats.trim_mean(values, 0.25))  # rliable's definition
    batch = np.random.default_rng(n).normal(size=(7, n))
    np.testing.assert_allclose(iqm(batch, axis=-1), [direct_iqm(row) for row in batch])
    # Robust: one wild seed barely moves the IQM but drags the mean.
    outlier = np.append(np.arange(7.0), 1e6)
    assert iqm(outlier) == pytest.approx(direct_iqm(outlier)) and iqm(outlier) < 7


def test_stratified_bootstrap_resamples_within_each_stratum():
    # Stratum A is all 0, stratum B all 1: every stratified resample keeps 5 of each, so the pooled
    # mean is exactly 1/2 and the interval is a point; an unstratified bootstrap would vary.
    strata = [np.zeros(5), np.ones(5)]
    assert stratified_bootstrap_interval(strata, np.mean) == (0.5, 0.5)
    low, high = stratified_bootstrap_interval([np.r_[np.zeros(5), np.ones(5)]], np.mean)
    assert low < 0.3 and high > 0.7


def test_bootstrap_interval_of_the_mean_matches_the_normal_theory_width():
    values = np.random.default_rng(1).normal(2.0, 3.0, size=400)
    low, high = stratified_bootstrap_interval([values], np.mean)
    half_width = 1.96 * values.std(ddof=1) / math.sqrt(values.size)
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.1)
    assert (low + high) / 2 == pytest.approx(values.mean(), abs=0.1 * half_width)


def test_bootstrap_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(2)
    hits = 0
    for trial in range(200):
        sample = rng.normal(0.0, 1.0, size=20)
        low, high = stratified_bootstrap_interval([sample], np.mean, n_resamples=1000, seed=trial)
        hits += low <= 0.0 <= high
    assert 0.86 <= hits / 200 <= 0.99  # percentile intervals undercover a little at n = 20


def test_no_interval_from_fewer_than_three_seeds():
    assert MIN_SEEDS_FOR_INTERVAL == 3
    two = estimate(np.array([0.2, 0.4]))
    assert two.value == pytest.approx(0.3) and two.n == 2 and not two.has_interval
    three = estimate(np.array([0.2, 0.4, np.nan, 0.9]))
    assert three.n == 3 and three.has_interval and three.low <= three.value <= three.high
    same = estimate(np.array([1.5, 1.5, 1.5]))
    assert (same.low, same.value, same.high) == (1.5, 1.5, 1.5)


def _frame(n_seeds):
    rng = np.random.default_rng(0)
    rows = [
        {"p": p, "seed_index": s, "score": p + rng.normal(0, 0.1), "flag": bool(s % 2)}
        for p in (0.3, 0.7)
        for s in range(n_seeds)
    ]
    return pd.DataFrame(rows)


def test_paired_comparison_counts_pairs_and_gives_the_exact_sign_test():
    baseline = np.array([0.0, 0.2, 0.4, 0.0, 0.6, 0.0, 0.0, 0.2, 0.0, 1.0])
    arm = np.array([0.4, 0.6, 0.4, 0.2, 0.8, 0.2, 0.2, 0.4, 0.6, 0.8])  # 8 better, 1 worse, 1 tie
    comparison = paired_comparison(arm, baseline)
    assert (comparison.better, comparison.worse, comparison.tied) == (8, 1, 1)
    assert comparison.mean_difference == pytest.approx(np.mean(arm) - np.mean(baseline))
    # Two-sided: P(X >= 8) + P(X <= 1) for X ~ Binomial(9, 1/2), ties dropped.
    tails = sum(math.comb(9, k) for k in (0, 1, 8, 9)) / 2**9
    assert comparison.sign_test_p == pytest.approx(tails)
    swapped = paired_comparison(baseline, arm)
    assert (swapped.better, swapped.worse, swapped.sign_test_p) == (1, 8, comparison.sign_test_p)
    assert swapped.mean_difference == pytest.approx(-comparison.mean_difference)
    tie = paired_comparison(baseline, baseline)
    assert (tie.tied, tie.sign_test_p) == (10, 1.0)
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        paired_comparison(arm, baseline[:5])


def test_summarise_reports_each_estimator_with_its_interval_and_n():
    frame = _frame(6)
    summary = summarise(frame, ["p"])
    assert len(summary) == 2 * 2  # (p) x (score, flag)
    score = summary[summary["metric"] == "score"].set_index("p")
    for p, group in frame.groupby("p"):
        values = group["score"].to_numpy()
        assert score.loc[p, "n"] == 6
        assert score.loc[p, "mean"] == pytest.approx(values.mean())
        assert score.loc[p, "median"] == pytest.approx(np.median(values))
        assert score.loc[p, "iqm"] == pytest.approx(direct_iqm(values))
        for name in ("mean", "median", "iqm"):
            assert score.loc[p, f"{name}_low"] <= score.loc[p, name] <= score.loc[p, f"{name}_high"]
    two = summarise(_frame(2), ["p"])
    assert (two["n"] == 2).all() and two[["mean_low", "mean_high", "iqm_low"]].isna().all().all()


def _cells(markdown, column):
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [[c.strip() for c in line.strip("|").split("|")][header.index(column)]
            for line in lines[2:]]  # fmt: skip


def _png_dpi(path):
    from PIL import Image

    with Image.open(path) as image:
        return image.info["dpi"][0], image.size


@pytest.mark.parametrize("n_seeds", [2, 3])
def test_summary_md_header_compact_table_and_figures(tmp_path, n_seeds):
    out = tmp_path / "walk"
    result = seqrl.run("example-random-walk", grid={"p": [0.4, 0.6]}, params={"n_walks": 200},
                       seeds=n_seeds, out=out)  # fmt: skip
    text = (out / "summary.md").read_text()
    assert text.startswith("# example-random-walk\n")
    for field in ("- scenario: `example-random-walk`", "- commit: `", "- date: 20",
                  f"- seeds: {n_seeds} per combination"):  # fmt: skip
        assert field in text
    tables = [block for block in text.split("\n\n") if block.startswith("| ")]
    assert len(tables) == 1, "one table for a single grid"
    header = tables[0].splitlines()[0]
    assert header.startswith("| p | seeds | ruin_rate |") and "closed_form_ruin" in header
    means = result.results.groupby("p")["ruin_rate"]
    cells = _cells(tables[0], "ruin_rate")
    assert len(cells) == 2
    for cell, (_, values) in zip(cells, means, strict=True):
        numbers = [float(x) for x in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", cell)]
        if n_seeds < 3:
            assert "[" not in cell and "no confidence interval" in text
            assert numbers == pytest.approx(values.to_numpy(), rel=1e-3)
        else:
            mean, low, high = numbers
            assert mean == pytest.approx(values.mean(), rel=1e-3) and low <= mean <= high
    for stem in ("ruin_probability",):
        assert f"![{stem}]({stem}.png)" in text and f"({stem}.svg)" in text
        dpi, (width, _) = _png_dpi(out / f"{stem}.png")
        assert round(dpi) == FIGURE_DPI >= 150 and width >= 5 * 150
        assert (out / f"{stem}.svg").read_text().lstrip().startswith("<?xml")
    assert (out / "summary.csv").is_file()
    csv = pd.read_csv(out / "summary.csv")
    assert {"p", "metric", "n", "mean", "mean_low", "iqm", "iqm_high", "median"} <= set(csv)


@dataclass(frozen=True)
class KindArgs:
    kind: str = seqrl.param("a", "which kind", choices=("a", "b"))
    x: int = seqrl.param(0, "only matters for kind b", low=0)


@seqrl.scenario(name="kinds", description="Two sub-grids.", params=KindArgs,
                grid=[{"kind": ["a"]}, {"kind": ["b"], "x": [1, 2]}])  # fmt: skip
def kinds(args, rng):
    metrics = {"common": float(rng.random())}
    if args.kind == "b":
        metrics["b_only"] = float(args.x)
    return metrics


def test_one_table_per_sub_grid_with_only_its_metrics():
    result = seqrl.run(kinds, seeds=2)
    tables = result_tables(result.results, result.manifest["identity"]["grid"])
    assert [heading for heading, _ in tables] == ["kind = a, x = 0", "kind = b"]
    a_table, b_table = (table for _, table in tables)
    assert a_table.splitlines()[0] == "| seeds | common |"
    assert b_table.splitlines()[0] == "| x | seeds | common | b_only |"
    assert _cells(b_table, "b_only") == ["1, 1", "2, 2"]


# --- figures --------------------------------------------------------------------------------------


def _line_styles(axis):
    return [(line.get_color(), line.get_marker(), line.get_linestyle())
            for line in axis.get_lines() if not line.get_label().startswith("_")]  # fmt: skip


def test_coinciding_curves_stay_distinguishable_and_titles_count_seeds():
    from seqrl.scenarios.plots.ads import plot_toy

    steps = np.arange(0, 1000, 100)
    rows = [
        {"schedule": schedule, "gamma": 0.99, "seed_index": 0, "metric": metric, "step": s,
         "value": 0.5}
        for schedule in ("ads", "fixed") for metric in ("success_rate", "gamma", "progress")
        for s in steps
    ]  # fmt: skip
    trajectories = pd.DataFrame(rows)
    results = pd.DataFrame({"schedule": ["ads", "fixed"], "seed_index": [0, 0]})
    figures = plot_toy(results, trajectories)
    axis = figures["ads_toy_success_rate"].axes[0]
    styles = _line_styles(axis)
    assert len(styles) == 2
    (c1, m1, l1), (c2, m2, l2) = styles
    assert c1 != c2 and m1 != m2 and l1 != l2
    assert "1 seed " in axis.get_title() and "1 seeds" not in axis.get_title()


def test_titles_describe_the_plot_not_the_claim():
    from seqrl.scenarios.plots.dp import plot_continuous

    trajectories = pd.DataFrame(
        [{"epsilon": e, "sigma": 1.0, "seed_index": s, "step": n, "mean_public_llr": 0.1 * n,
          "mean_wrong_actions": 1.0} for e in (0.5, math.inf) for s in (0, 1, 2)
         for n in range(1, 30)]
    )  # fmt: skip
    figure = plot_continuous(pd.DataFrame(), trajectories)["dp_continuous_learning"]
    titles = " ".join(axis.get_title() for axis in figure.axes)
    assert "linear" not in titles and "against" in titles
    # Three seeds: each line has its 95% band (a filled PolyCollection).
    assert all(axis.collections for axis in figure.axes)


def test_ppo_and_bayes_accuracies_carry_error_bars():
    from seqrl.scenarios.plots.dp import plot_rl

    results = pd.DataFrame({"seed_index": [0], "ppo_accuracy": [0.7], "bayesian_accuracy": [0.8],
                            "ppo_accuracy_standard_error": [0.02],
                            "bayesian_accuracy_standard_error": [0.01]})  # fmt: skip
    axis = plot_rl(results, None)["dp_rl_learner"].axes[1]
    segments = [seg for c in axis.collections for seg in c.get_segments()]
    half_widths = sorted((seg[1][1] - seg[0][1]) / 2 for seg in segments)
    assert half_widths == pytest.approx([1.96 * 0.01, 1.96 * 0.02])

"""The acceptance metrics computed by Spark equal what scipy computes on the same values in
memory (the oracle): mid-ranks with ties across several range buckets, the two-sample KS
statistic, Spearman's rank correlation and AUC (Mann-Whitney's U); PSI is the textbook sum.
Real local Spark; the data are seeded random draws with many ties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.acceptance.cumulative import with_rank
from harness.acceptance.metrics import agreement, discrimination, distribution, psi


@pytest.fixture(scope="module")
def draws() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20)
    g = np.round(rng.beta(2, 8, 3000), 3)  # rounded: many ties
    c = np.round(np.clip(g + rng.normal(0, 0.03, g.size), 0, 1), 3)
    y = (rng.random(g.size) < c).astype(int)
    return {"g": g, "c": c, "y": y}


@pytest.fixture(scope="module")
def frame(spark, draws: dict[str, np.ndarray]):
    rows = [
        (i, float(g), float(c), int(y))
        for i, (g, c, y) in enumerate(zip(draws["g"], draws["c"], draws["y"], strict=True))
    ]
    return spark.createDataFrame(rows, "id BIGINT, g DOUBLE, c DOUBLE, y INT").repartition(4)


def test_mid_ranks_equal_scipy_with_ties_across_buckets(frame, draws) -> None:
    ranked = with_rank(frame, "g", "r", buckets=7).select("id", "r").toPandas()
    ranks = ranked.sort_values("id")["r"].to_numpy()
    assert np.allclose(ranks, stats.rankdata(draws["g"]))


def test_ks_and_psi(frame, draws) -> None:
    found = distribution(frame.select("g"), frame.select(frame.c.alias("g")), "g", 10)
    assert found["ks"] == pytest.approx(stats.ks_2samp(draws["g"], draws["c"]).statistic)
    assert sum(found["golden_bins"]) == sum(found["candidate_bins"]) == draws["g"].size
    edges = found["edges"]
    # Bins are (e_i-1, e_i]: count with right-closed edges, as Spark's "value > edge" does.
    own = [np.array([np.sum(x <= e) for e in [*edges, np.inf]]) for x in (draws["g"], draws["c"])]
    own = [np.diff(np.concatenate([[0], o])) for o in own]
    assert found["golden_bins"] == own[0].tolist() and found["candidate_bins"] == own[1].tolist()
    assert found["psi"] == pytest.approx(psi(own[0].tolist(), own[1].tolist()))
    same = distribution(frame.select("g"), frame.select("g"), "g", 10)
    assert same["psi"] == 0.0 and same["ks"] == 0.0


def test_psi_is_the_textbook_sum() -> None:
    e, a = [50, 30, 20], [30, 30, 40]
    want = sum(
        (x / 100 - y / 100) * math.log((x / 100) / (y / 100)) for x, y in zip(a, e, strict=True)
    )
    assert psi(e, a) == pytest.approx(want)
    assert math.isfinite(psi([10, 0], [5, 5]))  # an empty bin is floored, not log(0)


def test_spearman_and_top_n(frame, draws) -> None:
    found = agreement(frame, "g", "c", 300, 10)
    assert found["matched"] == draws["g"].size
    assert found["rank_correlation"] == pytest.approx(
        stats.spearmanr(draws["g"], draws["c"]).statistic
    )
    assert 0 < found["top_n_overlap"] <= 1 and found["top_n"] == 300
    itself = agreement(frame.select("id", "g", frame.g.alias("c")), "g", "c", None, 10)
    assert itself["rank_correlation"] == pytest.approx(1.0) and itself["top_n_overlap"] == 1.0


def test_auc_lift_and_calibration(frame, draws) -> None:
    found = discrimination(frame.select("c", "y"), "c", "y", 10)
    pos, neg = draws["c"][draws["y"] == 1], draws["c"][draws["y"] == 0]
    auc = stats.mannwhitneyu(pos, neg).statistic / (pos.size * neg.size)
    assert found["auc"] == pytest.approx(auc) and found["gini"] == pytest.approx(2 * auc - 1)
    assert found["positives"] == draws["y"].sum() and len(found["bins"]) == 10
    assert sum(b["n"] for b in found["bins"]) == draws["y"].size
    top = found["bins"][-1]
    assert found["capture"] == pytest.approx(top["positives"] / draws["y"].sum())
    assert top["lift"] > 1 > found["bins"][0]["lift"]  # the scores do rank the outcomes
    gaps = [abs(b["mean_score"] - b["rate"]) for b in found["bins"]]
    assert found["calibration_gap"] == pytest.approx(max(gaps))


def test_a_label_column_or_key_that_is_not_there_is_one_line(spark, tmp_path) -> None:
    from test_criteria import scores, spec_with

    from harness.acceptance import evaluate
    from harness.errors import SpecError
    from harness.spec import load_spec

    out = spark.createDataFrame(
        [(1, 1, "a", 0.1), (2, 1, "a", 0.2)],
        "customer_id BIGINT, product_id INT, product_name STRING, propensity DOUBLE",
    )
    contacts = spark.createDataFrame(
        [(1, 1, "2024-11-02", True, 3)],
        "customer_id BIGINT, product_id INT, contact_date STRING, converted BOOLEAN, visits INT",
    )
    cases = [
        ({"column": "convertd"}, "acceptance.label: table 'contacts' has no column 'convertd'"),
        (
            {"keys": ["customer_id", "product"]},
            "acceptance.label.keys: output 'propensity_scores' has no column 'product'",
        ),
        ({"column": "visits"}, "label.column: 'visits' of 'contacts' must be 0/1 or boolean"),
        # Found when the label is read, on any backend (Connect analyses plans lazily).
        ({"where": "contact_dte >= '${train_end}'"}, "acceptance.label.where: "),
        ({"where": "contact_date >="}, "acceptance.label.where: "),
    ]
    for i, (change, message) in enumerate(cases):
        label = {"table": "contacts", "column": "converted", "keys": ["customer_id", "product_id"]}
        path = spec_with(tmp_path / str(i), "propensity_scores", scores(label={**label, **change}))
        with pytest.raises(SpecError) as caught:
            evaluate(load_spec(path), "propensity_scores", out, out, label_table=contacts)
        assert message in str(caught.value) and "\n" not in str(caught.value)
        if "where" in change:
            assert 'where: "contact_d' in str(caught.value)  # the text as run, Spark's reason
        assert str(caught.value).startswith(str(path))
    path = spec_with(tmp_path / "s", "propensity_scores", scores(score="propensty"))
    with pytest.raises(
        SpecError, match=r"acceptance\.score: the golden of 'propensity_scores' has no"
    ):
        evaluate(load_spec(path), "propensity_scores", out, out, label_table=contacts)

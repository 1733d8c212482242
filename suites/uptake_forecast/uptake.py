"""uptake.py -- monthly product uptake and its forecast (marketing analytics, Python team).

Feature engineering in PySpark: contacts and conversions per product and calendar month.
Model: a Poisson GLM (statsmodels) of the monthly conversions with one intercept and one
trend per product, log E[conversions] = a[product] + b[product] * t, fitted on the training
months; the forecast is the expected uptake (and its 95% interval) for the next
``horizon_months`` months. Legacy PySpark job on HDInsight, migrated unchanged (the
hard-coded months and horizon are read from params).

    run(spark, contacts, products, params) ->
        {"monthly_uptake": ..., "uptake_forecast": ..., "uptake_coefficients": ...}
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from pyspark.sql import functions as F

MONTHLY_SCHEMA = (
    "product_name STRING, month STRING, t INT, contacts BIGINT, "
    "conversions BIGINT, uptake_rate DOUBLE"
)
FORECAST_SCHEMA = (
    "product_name STRING, month STRING, t INT, horizon INT, "
    "expected_uptake DOUBLE, lower_95 DOUBLE, upper_95 DOUBLE"
)
COEFFICIENT_SCHEMA = "term STRING, estimate DOUBLE, std_error DOUBLE, z_value DOUBLE"


def month_index(month: str, origin: str) -> int:
    """Months since ``origin`` ('yyyy-MM' strings): 2024-03 from 2024-01 is 2."""
    y, m = (int(x) for x in month.split("-"))
    y0, m0 = (int(x) for x in origin.split("-"))
    return (y - y0) * 12 + (m - m0)


def month_at(index: int, origin: str) -> str:
    y0, m0 = (int(x) for x in origin.split("-"))
    y, m = divmod(m0 - 1 + index, 12)
    return f"{y0 + y:04d}-{m + 1:02d}"


def design(frame: pd.DataFrame, products: list[str]) -> pd.DataFrame:
    """One intercept and one trend column per product (a cell-means parametrisation)."""
    cols = {}
    for name in products:
        is_p = (frame["product_name"] == name).astype(float).to_numpy()
        cols[f"{name}"] = is_p
        cols[f"{name}:t"] = is_p * frame["t"].to_numpy(dtype=float)
    return pd.DataFrame(cols, index=frame.index)


def run(spark, contacts, products, params):
    first, last = params["first_month"], params["last_month"]
    horizon = int(params["horizon_months"])

    # ---- features (Spark): contacts and conversions per product x month
    monthly = (
        contacts.join(products, "product_id")
        .withColumn("month", F.date_format("contact_date", "yyyy-MM"))
        .where((F.col("month") >= first) & (F.col("month") <= last))
        .groupBy("product_name", "month")
        .agg(
            F.count(F.lit(1)).alias("contacts"),
            F.sum(F.when(F.col("converted"), 1).otherwise(0)).cast("bigint").alias("conversions"),
        )
        .withColumn("uptake_rate", F.col("conversions") / F.col("contacts"))
    )

    # ---- model (driver): a few hundred rows at most, sorted so the fit is reproducible
    pdf = monthly.toPandas().sort_values(["product_name", "month"]).reset_index(drop=True)
    pdf["t"] = [month_index(m, first) for m in pdf["month"]]
    names = sorted(pdf["product_name"].unique())
    X = design(pdf, names)
    fit = sm.GLM(pdf["conversions"].astype(float), X, family=sm.families.Poisson()).fit()

    coefficients = pd.DataFrame(
        {
            "term": list(X.columns),
            "estimate": np.asarray(fit.params, dtype=float),
            "std_error": np.asarray(fit.bse, dtype=float),
            "z_value": np.asarray(fit.tvalues, dtype=float),
        }
    )

    # ---- forecast: the next `horizon` months after the last training month
    t_last = month_index(last, first)
    future = pd.DataFrame(
        [
            (name, month_at(t_last + h, first), t_last + h, h)
            for name in names
            for h in range(1, horizon + 1)
        ],
        columns=["product_name", "month", "t", "horizon"],
    )
    pred = fit.get_prediction(design(future, names)).summary_frame(alpha=0.05)
    future["expected_uptake"] = pred["mean"].to_numpy()
    future["lower_95"] = pred["mean_ci_lower"].to_numpy()
    future["upper_95"] = pred["mean_ci_upper"].to_numpy()

    return {
        "monthly_uptake": spark.createDataFrame(
            pdf[["product_name", "month", "t", "contacts", "conversions", "uptake_rate"]],
            schema=MONTHLY_SCHEMA,
        ),
        "uptake_forecast": spark.createDataFrame(future, schema=FORECAST_SCHEMA),
        "uptake_coefficients": spark.createDataFrame(coefficients, schema=COEFFICIENT_SCHEMA),
    }

"""postprocess.py -- step 3 of 3 of the adoption pipeline (marketing analytics, Python team).

Joins every customer to the propensity of their profile for each product (R step), values
it (expected premium = propensity x the product's base premium), ranks the customers of
each product into deciles (1 = most likely to take it up), and builds

* ``customer_offers``: per customer, the next best offer: of the products the customer does
  not already hold (an active policy), the one with the highest expected premium, with its
  propensity, expected premium and the customer's decile for that product;
* ``decile_summary``: per product and decile, the customers, mean/min/max propensity,
  expected take-ups, expected premium and the lift over the product's mean propensity.

Legacy PySpark job (HDInsight), migrated unchanged but for the params (were hard-coded).
"""

from __future__ import annotations

from pyspark.sql import Window
from pyspark.sql import functions as F

PROFILE = ["region", "segment", "age_band", "income_band", "history_band"]


def run(pipeline_customers, adoption_cell_scores, products, policies, params):
    deciles = int(params["deciles"])

    scored = (
        pipeline_customers.select("customer_id", *PROFILE)
        .join(adoption_cell_scores.select(*PROFILE, "product_id", "propensity"), PROFILE)
        .join(products.select("product_id", "product_name", "base_premium"), "product_id")
        .where(F.col("propensity").isNotNull())
        .withColumn("expected_premium", F.col("propensity") * F.col("base_premium"))
    )

    # Deciles per product; customers of equal propensity (same profile) split by id.
    by_product = Window.partitionBy("product_id").orderBy(
        F.col("propensity").desc(), F.col("customer_id")
    )
    scored = scored.withColumn("decile", F.ntile(deciles).over(by_product))

    # Next best offer: never a product the customer already holds.
    held = (
        policies.where(
            (F.col("status") == params["held_status"]) & F.col("customer_id").isNotNull()
        )
        .select("customer_id", "product_id")
        .distinct()
    )
    best = Window.partitionBy("customer_id").orderBy(
        F.col("expected_premium").desc(), F.col("product_id")
    )
    customer_offers = (
        scored.join(held, ["customer_id", "product_id"], "left_anti")
        .withColumn("rank", F.row_number().over(best))
        .where(F.col("rank") == 1)
        .select(
            "customer_id",
            F.col("product_id").alias("best_product_id"),
            F.col("product_name").alias("best_product"),
            "propensity",
            "expected_premium",
            "decile",
        )
    )

    product_mean = Window.partitionBy("product_name")
    decile_summary = (
        scored.groupBy("product_name", "decile")
        .agg(
            F.count(F.lit(1)).alias("customers"),
            F.avg("propensity").alias("mean_propensity"),
            F.min("propensity").alias("min_propensity"),
            F.max("propensity").alias("max_propensity"),
            F.sum("propensity").alias("expected_takeups"),
            F.sum("expected_premium").alias("expected_premium"),
        )
        .withColumn(
            "lift",
            F.col("mean_propensity")
            / (
                F.sum("expected_takeups").over(product_mean) / F.sum("customers").over(product_mean)
            ),
        )
    )
    return {"customer_offers": customer_offers, "decile_summary": decile_summary}

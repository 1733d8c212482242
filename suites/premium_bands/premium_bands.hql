-- premium_bands.hql: annual premium bands (deciles/quartiles) per product.
-- Legacy Hive job (HDInsight, pricing team). Migrated with ONE change, see MIGRATION.md:
-- CAST(... AS DOUBLE) -> TRY_CAST(... AS DOUBLE) (Spark's ANSI mode raises on 'N/A' where
-- Hive returned NULL). The hard-coded statuses and percentiles are now parameters.
SET hive.exec.dynamic.partition.mode=nonstrict;
SET hive.groupby.orderby.position.alias=true;

DROP TABLE IF EXISTS policy_premiums;
DROP TABLE IF EXISTS premium_bands;

-- pas.policies stores the premium as text: '1,328.20', '1328.2' or 'N/A'.
-- Strip the thousands separators; what still does not parse ('N/A') becomes NULL.
CREATE TABLE policy_premiums AS
SELECT policy_id,
       product_id,
       status,
       TRY_CAST(regexp_replace(annual_premium, ',', '') AS DOUBLE) AS premium
FROM policies
WHERE status IN (${hivevar:statuses});

CREATE TABLE premium_bands AS
SELECT pr.product_name,
       pr.product_line,
       COUNT(*)                          AS policies,
       COUNT(pp.premium)                 AS priced_policies,
       AVG(pp.premium)                   AS mean_premium,
       percentile_approx(pp.premium, ${hivevar:p10}) AS p10,
       percentile_approx(pp.premium, ${hivevar:p25}) AS p25,
       percentile_approx(pp.premium, ${hivevar:p50}) AS p50,
       percentile_approx(pp.premium, ${hivevar:p75}) AS p75,
       percentile_approx(pp.premium, ${hivevar:p90}) AS p90
FROM policy_premiums pp
JOIN products pr ON pp.product_id = pr.product_id
GROUP BY pr.product_name, pr.product_line;

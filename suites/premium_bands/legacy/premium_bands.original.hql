-- premium_bands.hql: annual premium bands (deciles/quartiles) per product.
-- Legacy Hive job (HDInsight, pricing team), as it ran on the old platform.
SET hive.exec.dynamic.partition.mode=nonstrict;
SET hive.groupby.orderby.position.alias=true;

DROP TABLE IF EXISTS policy_premiums;
DROP TABLE IF EXISTS premium_bands;

-- pas.policies stores the premium as text: '1,328.20', '1328.2' or 'N/A'.
-- Strip the thousands separators; Hive turns what still does not parse ('N/A') into NULL.
CREATE TABLE policy_premiums AS
SELECT policy_id,
       product_id,
       status,
       CAST(regexp_replace(annual_premium, ',', '') AS DOUBLE) AS premium
FROM policies
WHERE status IN ('active', 'lapsed');

CREATE TABLE premium_bands AS
SELECT pr.product_name,
       pr.product_line,
       COUNT(*)                          AS policies,
       COUNT(pp.premium)                 AS priced_policies,
       AVG(pp.premium)                   AS mean_premium,
       percentile_approx(pp.premium, 0.10) AS p10,
       percentile_approx(pp.premium, 0.25) AS p25,
       percentile_approx(pp.premium, 0.50) AS p50,
       percentile_approx(pp.premium, 0.75) AS p75,
       percentile_approx(pp.premium, 0.90) AS p90
FROM policy_premiums pp
JOIN products pr ON pp.product_id = pr.product_id
GROUP BY pr.product_name, pr.product_line;

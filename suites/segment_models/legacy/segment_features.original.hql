-- segment_features.hql: one row per in-force policy with its customer's features, the input
-- of the per-region premium models (segment_models.R). Legacy Hive job (HDInsight).
SET hive.exec.dynamic.partition.mode=nonstrict;

DROP TABLE IF EXISTS segment_customers;
DROP TABLE IF EXISTS segment_features;

-- The CRM extract holds duplicate customer records: keep the latest signup.
CREATE TABLE segment_customers AS
SELECT customer_id, region, birth_date, annual_income
FROM (
  SELECT customer_id, region, birth_date, annual_income,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY signup_date DESC, region) AS rn
  FROM customers
  WHERE customer_id IS NOT NULL
) ranked
WHERE rn = 1;

-- Premiums and incomes are text with thousands separators or 'N/A' (Hive: NULL on a bad
-- cast); birth dates come as yyyy-MM-dd or dd/MM/yyyy.
CREATE TABLE segment_features AS
SELECT p.policy_id,
       c.region,
       pr.product_name,
       CAST(regexp_replace(p.annual_premium, ',', '') AS DOUBLE) AS premium,
       CAST(regexp_replace(c.annual_income, ',', '') AS DOUBLE) AS income,
       datediff('2024-12-31',
                CASE WHEN c.birth_date LIKE '__/__/____'
                     THEN to_date(from_unixtime(unix_timestamp(c.birth_date, 'dd/MM/yyyy')))
                     ELSE to_date(c.birth_date) END) / 365.25 AS age
FROM policies p
JOIN segment_customers c ON p.customer_id = c.customer_id
JOIN products pr ON p.product_id = pr.product_id
WHERE p.status IN ('active', 'lapsed');

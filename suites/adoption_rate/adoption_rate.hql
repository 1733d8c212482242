-- adoption_rate.hql: monthly adoption rate per product and region.
-- Legacy Hive job (HDInsight), migrated with no changes to the query text.
SET hive.exec.dynamic.partition.mode=nonstrict;

DROP TABLE IF EXISTS customer_dedup;
DROP TABLE IF EXISTS adoption_rates;

-- The CRM extract holds duplicate customer records: keep the latest signup.
CREATE TABLE customer_dedup AS
SELECT customer_id, region
FROM (
  SELECT customer_id, region,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY signup_date DESC, region) AS rn
  FROM customers
  WHERE customer_id IS NOT NULL
) ranked
WHERE rn = 1;

CREATE TABLE adoption_rates AS
SELECT p.product_name,
       c.region,
       date_format(k.contact_date, 'yyyy-MM') AS month,
       COUNT(*) AS contacts,
       SUM(CASE WHEN k.converted THEN 1 ELSE 0 END) AS adoptions,
       SUM(CASE WHEN k.converted THEN 1 ELSE 0 END) / COUNT(*) AS adoption_rate,
       AVG(p.base_premium * CASE WHEN k.converted THEN 1.0 ELSE 0.0 END) AS expected_premium
FROM contacts k
JOIN customer_dedup c ON k.customer_id = c.customer_id
JOIN products p ON k.product_id = p.product_id
WHERE k.contact_date >= '${hivevar:start_date}'
GROUP BY p.product_name, c.region, date_format(k.contact_date, 'yyyy-MM')
HAVING COUNT(*) >= ${hivevar:min_contacts};

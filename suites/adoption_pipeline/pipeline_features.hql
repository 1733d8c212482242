-- pipeline_features.hql: customer profiles and the aggregated training set of the
-- adoption pipeline (step 1 of 3: Hive -> R model -> Python post-processing).
-- Legacy Hive job (HDInsight). Migrated with one change, see MIGRATION.md: the prior
-- take-up rate divides with try_divide (Hive returns NULL for 0/0, Spark's ANSI mode raises
-- DIVIDE_BY_ZERO). The hard-coded dates and band edges are now parameters.
SET hive.exec.dynamic.partition.mode=nonstrict;

DROP TABLE IF EXISTS pipeline_history;
DROP TABLE IF EXISTS pipeline_customers;
DROP TABLE IF EXISTS pipeline_profiles;
DROP TABLE IF EXISTS pipeline_train;

-- Earlier behaviour of each customer: contacts and take-ups before history_end.
CREATE TABLE pipeline_history AS
SELECT customer_id,
       COUNT(*) AS contacts,
       SUM(CASE WHEN converted THEN 1 ELSE 0 END) AS conversions
FROM contacts
WHERE contact_date < '${hivevar:history_end}'
GROUP BY customer_id;

-- One row per customer (latest signup of duplicated records), banded.
CREATE TABLE pipeline_customers AS
SELECT customer_id, region, segment,
       CASE WHEN age IS NULL THEN 'unknown'
            WHEN age < ${hivevar:age_edge_1} THEN '18-29'
            WHEN age < ${hivevar:age_edge_2} THEN '30-44'
            WHEN age < ${hivevar:age_edge_3} THEN '45-59'
            ELSE '60+' END AS age_band,
       CASE WHEN income IS NULL THEN 'unknown'
            WHEN income < ${hivevar:income_low} THEN 'low'
            WHEN income < ${hivevar:income_high} THEN 'mid'
            ELSE 'high' END AS income_band,
       prior_contacts,
       CASE WHEN prior_rate IS NULL THEN 'none'
            WHEN prior_rate = 0 THEN 'no_uptake'
            ELSE 'took_up' END AS history_band
FROM (
  SELECT c.customer_id, c.region, c.segment,
         datediff('${hivevar:train_end}',
                  CASE WHEN c.birth_date LIKE '__/__/____'
                       THEN to_date(from_unixtime(unix_timestamp(c.birth_date, 'dd/MM/yyyy')))
                       ELSE to_date(c.birth_date) END) / 365.25 AS age,
         CASE WHEN c.annual_income RLIKE '^[0-9][0-9,]*(\\.[0-9]+)?$'
              THEN CAST(regexp_replace(c.annual_income, ',', '') AS DOUBLE) END AS income,
         COALESCE(h.contacts, 0) AS prior_contacts,
         try_divide(COALESCE(h.conversions, 0), COALESCE(h.contacts, 0)) AS prior_rate,
         ROW_NUMBER() OVER (PARTITION BY c.customer_id
                            ORDER BY c.signup_date DESC, c.region) AS rn
  FROM customers c
  LEFT JOIN pipeline_history h ON c.customer_id = h.customer_id
  WHERE c.customer_id IS NOT NULL
) ranked
WHERE rn = 1;

-- The distinct profiles the model scores (a compact design: not one row per customer).
CREATE TABLE pipeline_profiles AS
SELECT region, segment, age_band, income_band, history_band, COUNT(*) AS customers
FROM pipeline_customers
GROUP BY region, segment, age_band, income_band, history_band;

-- Training set: contacts from history_end to train_end, aggregated to cells (binomial
-- counts).
CREATE TABLE pipeline_train AS
SELECT c.region, c.segment, c.age_band, c.income_band, c.history_band,
       k.channel, p.product_name,
       COUNT(*) AS contacts,
       SUM(CASE WHEN k.converted THEN 1 ELSE 0 END) AS conversions
FROM contacts k
JOIN pipeline_customers c ON k.customer_id = c.customer_id
JOIN products p ON k.product_id = p.product_id
WHERE k.contact_date >= '${hivevar:history_end}' AND k.contact_date < '${hivevar:train_end}'
GROUP BY c.region, c.segment, c.age_band, c.income_band, c.history_band,
         k.channel, p.product_name;

-- question: What is each account's open pipeline worth in each stage (deals, total amount and
--   probability-weighted amount)?
-- reads: deals_enriched
SELECT
  hub_id,
  pipeline_label,
  stage_label,
  count(*) AS deals,
  round(sum(amount), 2) AS amount,
  round(sum(weighted_amount), 2) AS weighted_amount
FROM deals_enriched
WHERE NOT is_closed
GROUP BY hub_id, pipeline_label, stage_label
ORDER BY hub_id, pipeline_label, weighted_amount DESC

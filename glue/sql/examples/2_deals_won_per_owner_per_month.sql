-- question: How many deals did each owner win per month, and for how much?
-- reads: deals_enriched
SELECT
  hub_id,
  CAST(date_trunc('month', close_date) AS date) AS month,
  coalesce(owner_name, '(no owner)') AS owner,
  count(*) AS deals_won,
  round(sum(amount), 2) AS amount_won
FROM deals_enriched
WHERE is_won
GROUP BY 1, 2, 3
ORDER BY 1, 2 DESC, 4 DESC, 3

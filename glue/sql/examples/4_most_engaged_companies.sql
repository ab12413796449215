-- question: Which three companies of each account have the most activities logged on them, and
--   when was the last one?
-- reads: company_engagement_summary
SELECT hub_id, company_name, engagements, calls, meetings, emails, last_engaged_at
FROM (
  SELECT
    s.*,
    row_number() OVER (PARTITION BY hub_id ORDER BY engagements DESC, company_id) AS place
  FROM company_engagement_summary AS s
) AS ranked
WHERE place <= 3
ORDER BY hub_id, place

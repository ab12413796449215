-- question: Which email campaigns have the best open and click rates (the share of the
--   recipients they reached who opened, and who clicked)?
-- reads: email_campaign_performance
SELECT
  hub_id,
  campaign_id,
  campaign_name,
  recipients,
  unique_opens,
  unique_clicks,
  round(100e0 * unique_opens / nullif(recipients, 0), 1) AS open_rate_pct,
  round(100e0 * unique_clicks / nullif(recipients, 0), 1) AS click_rate_pct
FROM email_campaign_performance
ORDER BY open_rate_pct DESC NULLS LAST, hub_id, campaign_id
LIMIT 10

-- The email_events stream counted per email campaign: events of each type, the recipients it
-- reached (any event) and those who opened and clicked, the first and last event, with the
-- campaign's name and subject.
-- grain: one row per email campaign with events: (hub_id, campaign_id)
-- reads: email_events, campaigns
WITH events AS (
  SELECT
    hub_id,
    json_extract_scalar(record_json, '$.emailCampaignId') AS campaign_id,
    json_extract_scalar(record_json, '$.type') AS event_type,
    json_extract_scalar(record_json, '$.recipient') AS recipient,
    created_at
  FROM email_events
),
named AS (
  SELECT
    hub_id,
    id AS campaign_id,
    json_extract_scalar(record_json, '$.name') AS campaign_name,
    json_extract_scalar(record_json, '$.subject') AS subject
  FROM campaigns
)
SELECT
  e.hub_id,
  e.campaign_id,
  n.campaign_name,
  n.subject,
  count(*) AS events,
  count(CASE WHEN e.event_type = 'SENT' THEN 1 END) AS sent,
  count(CASE WHEN e.event_type = 'DELIVERED' THEN 1 END) AS delivered,
  count(CASE WHEN e.event_type = 'OPEN' THEN 1 END) AS opens,
  count(CASE WHEN e.event_type = 'CLICK' THEN 1 END) AS clicks,
  count(CASE WHEN e.event_type = 'BOUNCE' THEN 1 END) AS bounces,
  count(DISTINCT e.recipient) AS recipients,
  count(DISTINCT CASE WHEN e.event_type = 'OPEN' THEN e.recipient END) AS unique_opens,
  count(DISTINCT CASE WHEN e.event_type = 'CLICK' THEN e.recipient END) AS unique_clicks,
  min(e.created_at) AS first_event_at,
  max(e.created_at) AS last_event_at
FROM events AS e
LEFT JOIN named AS n
  ON n.hub_id = e.hub_id AND n.campaign_id = e.campaign_id
GROUP BY e.hub_id, e.campaign_id, n.campaign_name, n.subject

-- Live activities (calls, emails, meetings, notes, tasks: the engagements_* streams) and the
-- contacts, companies, deals and tickets they are logged on, with when the activity happened
-- (hs_timestamp; its creation time if it has none).
-- grain: one row per (hub_id, engagement_id, object_type, object_id)
-- reads: engagements_calls, engagements_emails, engagements_meetings, engagements_notes,
--   engagements_tasks
WITH activities AS (
  SELECT hub_id, id, 'CALL' AS engagement_type, associations, custom_properties, created_at, is_deleted
  FROM engagements_calls
  UNION ALL
  SELECT hub_id, id, 'EMAIL', associations, custom_properties, created_at, is_deleted
  FROM engagements_emails
  UNION ALL
  SELECT hub_id, id, 'MEETING', associations, custom_properties, created_at, is_deleted
  FROM engagements_meetings
  UNION ALL
  SELECT hub_id, id, 'NOTE', associations, custom_properties, created_at, is_deleted
  FROM engagements_notes
  UNION ALL
  SELECT hub_id, id, 'TASK', associations, custom_properties, created_at, is_deleted
  FROM engagements_tasks
),
live AS (
  SELECT
    hub_id,
    id AS engagement_id,
    engagement_type,
    associations,
    coalesce(try_cast(element_at(custom_properties, 'hs_timestamp') AS timestamp),
             CAST(created_at AS timestamp)) AS engaged_at
  FROM activities
  WHERE NOT coalesce(is_deleted, false)
)
SELECT l.hub_id, l.engagement_id, l.engagement_type, l.engaged_at, 'contact' AS object_type, o.object_id
FROM live AS l CROSS JOIN UNNEST(element_at(l.associations, 'contacts')) AS o (object_id)
UNION ALL
SELECT l.hub_id, l.engagement_id, l.engagement_type, l.engaged_at, 'company', o.object_id
FROM live AS l CROSS JOIN UNNEST(element_at(l.associations, 'companies')) AS o (object_id)
UNION ALL
SELECT l.hub_id, l.engagement_id, l.engagement_type, l.engaged_at, 'deal', o.object_id
FROM live AS l CROSS JOIN UNNEST(element_at(l.associations, 'deals')) AS o (object_id)
UNION ALL
SELECT l.hub_id, l.engagement_id, l.engagement_type, l.engaged_at, 'ticket', o.object_id
FROM live AS l CROSS JOIN UNNEST(element_at(l.associations, 'tickets')) AS o (object_id)

-- Live activities (calls, emails, meetings, notes, tasks: the engagements_* streams) and the
-- contacts, companies, deals and tickets they are logged on, with when the activity happened
-- (hs_timestamp; its creation time if it has none), and the association's labels from our
-- association_label_sets (calls|emails|meetings|notes|tasks -> contacts|
-- companies|deals|tickets): `labels` the non-null labels, sorted; `association_type_ids` the
-- HubSpot type ids, sorted (activities have no primary type). A link no snapshot has yet:
-- empty arrays.
-- grain: one row per (hub_id, engagement_id, object_type, object_id)
-- reads: engagements_calls, engagements_emails, engagements_meetings, engagements_notes,
--   engagements_tasks, association_label_sets
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
),
links AS (
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
)
SELECT
  k.hub_id,
  k.engagement_id,
  k.engagement_type,
  k.engaged_at,
  k.object_type,
  k.object_id,
  coalesce(lb.labels, CAST(ARRAY[] AS array(varchar))) AS labels,
  coalesce(lb.association_type_ids, CAST(ARRAY[] AS array(integer))) AS association_type_ids
FROM links AS k
LEFT JOIN association_label_sets AS lb
  -- the reader's object type names are HubSpot's plurals (CALL -> calls, company -> companies)
  ON lb.hub_id = k.hub_id AND lb.from_object_type = lower(k.engagement_type) || 's'
  AND lb.from_id = k.engagement_id
  AND lb.to_object_type = CASE k.object_type WHEN 'company' THEN 'companies'
                            ELSE k.object_type || 's' END
  AND lb.to_id = k.object_id

-- Activities logged on each live contact: how many of each kind, the first and the last.
-- grain: one row per live contact: (hub_id, contact_id); a contact without activities has zeros
-- reads: contacts, engagement_associations
SELECT
  c.hub_id,
  c.id AS contact_id,
  c.email AS contact_email,
  count(e.engagement_id) AS engagements,
  count(CASE WHEN e.engagement_type = 'CALL' THEN 1 END) AS calls,
  count(CASE WHEN e.engagement_type = 'EMAIL' THEN 1 END) AS emails,
  count(CASE WHEN e.engagement_type = 'MEETING' THEN 1 END) AS meetings,
  count(CASE WHEN e.engagement_type = 'NOTE' THEN 1 END) AS notes,
  count(CASE WHEN e.engagement_type = 'TASK' THEN 1 END) AS tasks,
  min(e.engaged_at) AS first_engaged_at,
  max(e.engaged_at) AS last_engaged_at
FROM contacts AS c
LEFT JOIN engagement_associations AS e
  ON e.hub_id = c.hub_id AND e.object_type = 'contact' AND e.object_id = c.id
WHERE NOT coalesce(c.is_deleted, false)
GROUP BY c.hub_id, c.id, c.email

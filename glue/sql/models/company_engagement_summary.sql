-- Activities logged on each live company: how many of each kind, the first and the last.
-- grain: one row per live company: (hub_id, company_id); a company without activities has zeros
-- reads: companies, engagement_associations
SELECT
  co.hub_id,
  co.id AS company_id,
  co.name AS company_name,
  count(e.engagement_id) AS engagements,
  count(CASE WHEN e.engagement_type = 'CALL' THEN 1 END) AS calls,
  count(CASE WHEN e.engagement_type = 'EMAIL' THEN 1 END) AS emails,
  count(CASE WHEN e.engagement_type = 'MEETING' THEN 1 END) AS meetings,
  count(CASE WHEN e.engagement_type = 'NOTE' THEN 1 END) AS notes,
  count(CASE WHEN e.engagement_type = 'TASK' THEN 1 END) AS tasks,
  min(e.engaged_at) AS first_engaged_at,
  max(e.engaged_at) AS last_engaged_at
FROM companies AS co
LEFT JOIN engagement_associations AS e
  ON e.hub_id = co.hub_id AND e.object_type = 'company' AND e.object_id = co.id
WHERE NOT coalesce(co.is_deleted, false)
GROUP BY co.hub_id, co.id, co.name

-- HubSpot's deal-to-company associations between live records, with the deal's and the
-- company's names (the connector reads them with the deals) and the association's labels from
-- association_label_sets (deals -> companies): `labels` the non-null labels,
-- sorted; `association_type_ids` the HubSpot type ids, sorted; `is_primary` whether one is
-- typeId 5, HubSpot's "Deal with Primary Company". A pair no snapshot has yet: empty arrays,
-- is_primary NULL.
-- grain: one row per associated pair: (hub_id, deal_id, company_id)
-- reads: deals, companies, association_label_sets
WITH pairs AS (
  SELECT DISTINCT d.hub_id, d.id AS deal_id, a.company_id, d.dealname AS deal_name
  FROM deals AS d
  CROSS JOIN UNNEST(element_at(d.associations, 'companies')) AS a (company_id)
  WHERE NOT coalesce(d.is_deleted, false)
)
SELECT
  p.hub_id,
  p.deal_id,
  p.company_id,
  'deal_to_company' AS association_type,
  p.deal_name,
  co.name AS company_name,
  coalesce(l.labels, CAST(ARRAY[] AS array(varchar))) AS labels,
  coalesce(l.association_type_ids, CAST(ARRAY[] AS array(integer))) AS association_type_ids,
  l.is_primary
FROM pairs AS p
JOIN companies AS co
  ON co.hub_id = p.hub_id AND co.id = p.company_id AND NOT coalesce(co.is_deleted, false)
LEFT JOIN association_label_sets AS l
  ON l.hub_id = p.hub_id AND l.from_object_type = 'deals' AND l.from_id = p.deal_id
  AND l.to_object_type = 'companies' AND l.to_id = p.company_id

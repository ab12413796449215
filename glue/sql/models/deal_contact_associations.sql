-- HubSpot's deal-to-contact associations between live records, with the deal's and the
-- contact's names (the connector reads them with the deals) and the association's labels from
-- association_label_sets (deals -> contacts): `labels` the non-null labels
-- (e.g. "Decision maker"), sorted; `association_type_ids` the HubSpot type ids, sorted (HubSpot
-- has no primary deal-to-contact type). A pair no snapshot has yet: empty arrays.
-- grain: one row per associated pair: (hub_id, deal_id, contact_id)
-- reads: deals, contacts, association_label_sets
WITH pairs AS (
  SELECT DISTINCT d.hub_id, d.id AS deal_id, a.contact_id, d.dealname AS deal_name
  FROM deals AS d
  CROSS JOIN UNNEST(element_at(d.associations, 'contacts')) AS a (contact_id)
  WHERE NOT coalesce(d.is_deleted, false)
)
SELECT
  p.hub_id,
  p.deal_id,
  p.contact_id,
  'deal_to_contact' AS association_type,
  p.deal_name,
  c.email AS contact_email,
  concat_ws(' ', c.firstname, c.lastname) AS contact_name,
  coalesce(l.labels, CAST(ARRAY[] AS array(varchar))) AS labels,
  coalesce(l.association_type_ids, CAST(ARRAY[] AS array(integer))) AS association_type_ids
FROM pairs AS p
JOIN contacts AS c
  ON c.hub_id = p.hub_id AND c.id = p.contact_id AND NOT coalesce(c.is_deleted, false)
LEFT JOIN association_label_sets AS l
  ON l.hub_id = p.hub_id AND l.from_object_type = 'deals' AND l.from_id = p.deal_id
  AND l.to_object_type = 'contacts' AND l.to_id = p.contact_id

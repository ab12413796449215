-- HubSpot's deal-to-contact associations between live records, with the deal's and the
-- contact's names (the connector reads them with the deals).
-- grain: one row per associated pair: (hub_id, deal_id, contact_id)
-- reads: deals, contacts
SELECT DISTINCT
  d.hub_id,
  d.id AS deal_id,
  a.contact_id,
  'deal_to_contact' AS association_type,
  d.dealname AS deal_name,
  c.email AS contact_email,
  concat_ws(' ', c.firstname, c.lastname) AS contact_name
FROM deals AS d
CROSS JOIN UNNEST(element_at(d.associations, 'contacts')) AS a (contact_id)
JOIN contacts AS c
  ON c.hub_id = d.hub_id AND c.id = a.contact_id AND NOT coalesce(c.is_deleted, false)
WHERE NOT coalesce(d.is_deleted, false)

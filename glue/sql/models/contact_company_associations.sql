-- HubSpot's contact-to-company associations between live records, with both ends' names and
-- the association's labels. Read from both sides (contacts list their companies, companies
-- their contacts), each pair once. Labels come from association_label_sets
-- (contacts -> companies): `labels` the pair's non-null labels, sorted; `association_type_ids`
-- its HubSpot type ids, sorted; `is_primary` whether one is typeId 1, HubSpot's "Contact with
-- Primary Company" (HubSpot-defined; labels may change, type ids do not: HubSpot changelog,
-- "Changes to primary labels for HubSpot-defined association labels", 2024). A pair no
-- snapshot has yet: empty arrays and is_primary NULL.
-- grain: one row per associated pair: (hub_id, contact_id, company_id)
-- reads: contacts, companies, association_label_sets
WITH pairs AS (
  SELECT c.hub_id, c.id AS contact_id, a.company_id
  FROM contacts AS c
  CROSS JOIN UNNEST(element_at(c.associations, 'companies')) AS a (company_id)
  UNION
  SELECT co.hub_id, a.contact_id, co.id AS company_id
  FROM companies AS co
  CROSS JOIN UNNEST(element_at(co.associations, 'contacts')) AS a (contact_id)
)
SELECT
  p.hub_id,
  p.contact_id,
  p.company_id,
  'contact_to_company' AS association_type,
  c.email AS contact_email,
  concat_ws(' ', c.firstname, c.lastname) AS contact_name,
  co.name AS company_name,
  coalesce(l.labels, CAST(ARRAY[] AS array(varchar))) AS labels,
  coalesce(l.association_type_ids, CAST(ARRAY[] AS array(integer))) AS association_type_ids,
  l.is_primary
FROM pairs AS p
JOIN contacts AS c
  ON c.hub_id = p.hub_id AND c.id = p.contact_id AND NOT coalesce(c.is_deleted, false)
JOIN companies AS co
  ON co.hub_id = p.hub_id AND co.id = p.company_id AND NOT coalesce(co.is_deleted, false)
LEFT JOIN association_label_sets AS l
  ON l.hub_id = p.hub_id AND l.from_object_type = 'contacts' AND l.from_id = p.contact_id
  AND l.to_object_type = 'companies' AND l.to_id = p.company_id

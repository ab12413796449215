-- HubSpot's contact-to-company associations between live records, with both ends' names. Read
-- from both sides (contacts list their companies, companies their contacts), each pair once.
-- grain: one row per associated pair: (hub_id, contact_id, company_id)
-- reads: contacts, companies
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
  co.name AS company_name
FROM pairs AS p
JOIN contacts AS c
  ON c.hub_id = p.hub_id AND c.id = p.contact_id AND NOT coalesce(c.is_deleted, false)
JOIN companies AS co
  ON co.hub_id = p.hub_id AND co.id = p.company_id AND NOT coalesce(co.is_deleted, false)

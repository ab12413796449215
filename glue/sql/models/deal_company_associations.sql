-- HubSpot's deal-to-company associations between live records, with the deal's and the
-- company's names (the connector reads them with the deals).
-- grain: one row per associated pair: (hub_id, deal_id, company_id)
-- reads: deals, companies
SELECT DISTINCT
  d.hub_id,
  d.id AS deal_id,
  a.company_id,
  'deal_to_company' AS association_type,
  d.dealname AS deal_name,
  co.name AS company_name
FROM deals AS d
CROSS JOIN UNNEST(element_at(d.associations, 'companies')) AS a (company_id)
JOIN companies AS co
  ON co.hub_id = d.hub_id AND co.id = a.company_id AND NOT coalesce(co.is_deleted, false)
WHERE NOT coalesce(d.is_deleted, false)

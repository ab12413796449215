-- Live deals with their pipeline and stage labels, the stage's probability, whether the deal is
-- closed or won, and its owner (the labels and owner come joined by the curate job).
-- grain: one row per live deal: (hub_id, deal_id)
-- reads: deals
SELECT
  d.hub_id,
  d.id AS deal_id,
  d.dealname AS deal_name,
  d.amount,
  d.pipeline AS pipeline_id,
  d.pipeline_label,
  d.dealstage AS stage_id,
  d.dealstage_label AS stage_label,
  coalesce(d.hs_deal_stage_probability, d.dealstage_probability) AS stage_probability,
  coalesce(d.dealstage_is_closed, false) AS is_closed,
  coalesce(d.hs_is_closed_won, d.dealstage_is_closed AND d.dealstage_probability >= 1.0, false) AS is_won,
  d.amount * coalesce(d.hs_deal_stage_probability, d.dealstage_probability) AS weighted_amount,
  d.dealtype AS deal_type,
  d.hubspot_owner_id AS owner_id,
  d.owner_name,
  d.owner_email,
  d.createdate AS created_at,
  d.closedate AS close_date,
  d.updated_at
FROM deals AS d
WHERE NOT coalesce(d.is_deleted, false)

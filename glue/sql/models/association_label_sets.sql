-- Each associated pair's HubSpot association types, from our reader's association_labels
-- snapshots (the connector keeps only the ids): `labels` the pair's non-null labels, sorted;
-- `association_type_ids` its HubSpot type ids, sorted; `is_primary` whether one is the pair's
-- primary type where HubSpot has one (typeId 1 "Contact with Primary Company", typeId 5 "Deal
-- with Primary Company"; HubSpot-defined labels may change, type ids do not: HubSpot changelog,
-- "Changes to primary labels for HubSpot-defined association labels", 2024), else NULL.
-- The bridge models join it; it is one place for what a pair's labels are.
-- grain: one row per (hub_id, from_object_type, from_id, to_object_type, to_id)
-- reads: association_labels
SELECT
  hub_id,
  from_object_type,
  from_id,
  to_object_type,
  to_id,
  array_sort(array_agg(DISTINCT label) FILTER (WHERE label IS NOT NULL)) AS labels,
  array_sort(array_agg(DISTINCT type_id)) AS association_type_ids,
  CASE
    WHEN from_object_type = 'contacts' AND to_object_type = 'companies' THEN bool_or(type_id = 1)
    WHEN from_object_type = 'deals' AND to_object_type = 'companies' THEN bool_or(type_id = 5)
  END AS is_primary
FROM association_labels
GROUP BY hub_id, from_object_type, from_id, to_object_type, to_id

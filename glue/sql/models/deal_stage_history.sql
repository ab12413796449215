-- Each stage a live deal went through: when it entered the stage, when it left (the next
-- dealstage change), how many days it stayed, from the deals_property_history stream. Setting
-- the same stage again is not a new visit; the current stage has no exit and no duration.
-- grain: one row per stage visit: (hub_id, deal_id, entered_at)
-- reads: deals_property_history, deals, deal_pipelines
WITH changes AS (
  SELECT DISTINCT
    hub_id,
    json_extract_scalar(record_json, '$.dealId') AS deal_id,
    json_extract_scalar(record_json, '$.value') AS stage_id,
    CAST(from_iso8601_timestamp(json_extract_scalar(record_json, '$.timestamp')) AS timestamp) AS changed_at
  FROM deals_property_history
  WHERE json_extract_scalar(record_json, '$.property') = 'dealstage'
),
marked AS (
  SELECT
    changes.*,
    lag(stage_id) OVER (PARTITION BY hub_id, deal_id ORDER BY changed_at) AS previous_stage_id
  FROM changes
),
visits AS (
  SELECT
    hub_id,
    deal_id,
    stage_id,
    previous_stage_id,
    changed_at AS entered_at,
    lead(changed_at) OVER (PARTITION BY hub_id, deal_id ORDER BY changed_at) AS exited_at
  FROM marked
  WHERE previous_stage_id IS NULL OR previous_stage_id <> stage_id
),
stages AS (
  SELECT
    p.hub_id,
    p.id AS pipeline_id,
    p.label AS pipeline_label,
    element_at(p.stages, s.n).stage_id AS stage_id,
    element_at(p.stages, s.n).label AS stage_label,
    element_at(p.stages, s.n).display_order AS stage_order
  FROM deal_pipelines AS p
  CROSS JOIN UNNEST(sequence(1, greatest(coalesce(cardinality(p.stages), 0), 1))) AS s (n)
  WHERE NOT coalesce(p.is_deleted, false)
)
SELECT
  v.hub_id,
  v.deal_id,
  d.dealname AS deal_name,
  d.pipeline AS pipeline_id,
  st.pipeline_label,
  v.stage_id,
  st.stage_label,
  st.stage_order,
  v.previous_stage_id,
  v.entered_at,
  v.exited_at,
  v.exited_at IS NULL AS is_current_stage,
  date_diff('second', v.entered_at, v.exited_at) / 86400e0 AS days_in_stage
FROM visits AS v
JOIN deals AS d
  ON d.hub_id = v.hub_id AND d.id = v.deal_id AND NOT coalesce(d.is_deleted, false)
LEFT JOIN stages AS st
  ON st.hub_id = v.hub_id AND st.pipeline_id = d.pipeline AND st.stage_id = v.stage_id

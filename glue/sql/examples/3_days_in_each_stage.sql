-- question: How many days do deals stay in each stage before they move on?
-- reads: deal_stage_history
SELECT
  hub_id,
  pipeline_label,
  stage_label,
  count(*) AS visits,
  round(avg(days_in_stage), 1) AS avg_days,
  round(max(days_in_stage), 1) AS max_days
FROM deal_stage_history
WHERE exited_at IS NOT NULL
GROUP BY hub_id, pipeline_label, stage_label, stage_order
ORDER BY hub_id, pipeline_label, stage_order

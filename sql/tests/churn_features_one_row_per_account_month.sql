-- intermediate.churn_features holds one row per account and snapshot month (and churn_outcomes one per feature row)
-- DuckDB only, as the churn models
{{ config(enabled=target.type == 'duckdb') }}
select account_id, snapshot_month, count(*) as rows_per_key
from {{ ref('churn_features') }}
group by all
having count(*) > 1
union all
select account_id, snapshot_month, count(*)
from {{ ref('churn_outcomes') }}
group by all
having count(*) > 1

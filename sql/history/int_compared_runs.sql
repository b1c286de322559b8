-- One row: the latest run and the run it is compared with, the one before it when that build
-- was on the same dataset (dataset_match), else null: no comparison then.
with

run_ids as (
    select distinct run_id from segment_snapshots
),

datasets as (
    select * from dataset_match
),

ranked_runs as (
    select
        run_id,
        row_number() over (order by run_id desc) as recency
    from run_ids
),

final as (
    select
        any_value(ranked_runs.run_id) filter (where ranked_runs.recency = 1) as run_id,
        any_value(ranked_runs.run_id) filter (
            where ranked_runs.recency = 2 and datasets.is_comparable
        ) as previous_run_id
    from ranked_runs
    cross join datasets
)

select * from final

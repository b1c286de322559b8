-- Each customer of the latest run or the one before it, with their cluster in both (null
-- where they were not there): what segment_changes and segment_movements read. Numbers only,
-- the labels are per run and cluster in segment_history. Empty after the first run, and when
-- the previous build was on another dataset (dataset_match): other people, maybe the same ids.
with

-- scanned per use rather than materialised: it holds every kept run's customers
snapshots as not materialized (
    select * from segment_snapshots
),

datasets as (
    select * from dataset_match
),

run_ids as (
    select distinct run_id from snapshots
),

ranked_runs as (
    select
        run_id,
        row_number() over (order by run_id desc) as recency
    from run_ids
),

-- the latest run and the one before it (none after the first run, nor after a build on
-- another dataset)
compared_runs as (
    select
        any_value(ranked_runs.run_id) filter (where ranked_runs.recency = 1) as run_id,
        any_value(ranked_runs.run_id) filter (
            where ranked_runs.recency = 2 and datasets.is_comparable
        ) as previous_run_id
    from ranked_runs
    cross join datasets
),

-- nothing to compare on a first run: both sides stay empty, so the join costs nothing
latest as (
    select
        snapshots.customer_id,
        snapshots.cluster_id
    from snapshots
    inner join compared_runs
        on
            snapshots.run_id = compared_runs.run_id
            and compared_runs.previous_run_id is not null
),

earlier as (
    select
        snapshots.customer_id,
        snapshots.cluster_id
    from snapshots
    inner join compared_runs on snapshots.run_id = compared_runs.previous_run_id
),

compared as (
    select
        compared_runs.previous_run_id,
        compared_runs.run_id,
        earlier.cluster_id as previous_cluster_id,
        latest.cluster_id,
        coalesce(latest.customer_id, earlier.customer_id) as customer_id
    from latest
    full outer join earlier on latest.customer_id = earlier.customer_id
    cross join compared_runs
),

final as (
    select
        customer_id,
        previous_run_id,
        run_id,
        previous_cluster_id,
        cluster_id
    from compared
)

select * from final

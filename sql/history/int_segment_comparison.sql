-- Each customer of the latest run or the one before it (int_compared_runs), with their cluster
-- in both (null where they were not there), but for those of the earlier run whose rows this
-- run rejected (customer_rejects: in the file still, not gone): what segment_changes reads.
-- Numbers only, the labels are per run and cluster in segment_history. Empty after the first
-- run, and when the previous build was on another dataset (dataset_match): other people, maybe
-- the same ids.
with

-- scanned per use rather than materialised: it holds every kept run's customers
snapshots as not materialized (
    select * from segment_snapshots
),

compared_runs as (
    select * from int_compared_runs
),

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

-- the ids of this run's file whose rows were rejected: customers still, whose values this run
-- could not use, never gone
rejected as (
    select distinct customer_id
    from stg_customer_rows
    where reject_reason is not null and customer_id is not null
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
    where
        cluster_id is not null
        or customer_id not in (select rejected.customer_id from rejected)
)

select * from final

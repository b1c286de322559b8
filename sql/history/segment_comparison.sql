-- Each customer of the latest run or the one before it, with their segment in both: what
-- segment_changes and segment_movements read. Empty after the first run.
with

snapshots as (
    select * from segment_snapshots
),

segments as (
    select * from segment_history
),

run_ids as (
    select distinct run_id from segments
),

ranked_runs as (
    select
        run_id,
        row_number() over (order by run_id desc) as recency
    from run_ids
),

-- the latest run and the one before it (none after the first run)
compared_runs as (
    select
        any_value(run_id) filter (where recency = 1) as run_id,
        any_value(run_id) filter (where recency = 2) as previous_run_id
    from ranked_runs
),

-- nothing to compare on a first run: both sides stay empty, so the join costs nothing
latest as (
    select
        snapshots.customer_id,
        snapshots.cluster_id,
        segments.segment_label
    from snapshots
    inner join compared_runs
        on
            snapshots.run_id = compared_runs.run_id
            and compared_runs.previous_run_id is not null
    inner join segments
        on snapshots.run_id = segments.run_id and snapshots.cluster_id = segments.cluster_id
),

earlier as (
    select
        snapshots.customer_id,
        snapshots.cluster_id,
        segments.segment_label
    from snapshots
    inner join compared_runs on snapshots.run_id = compared_runs.previous_run_id
    inner join segments
        on snapshots.run_id = segments.run_id and snapshots.cluster_id = segments.cluster_id
),

compared as (
    select
        compared_runs.previous_run_id,
        compared_runs.run_id,
        earlier.cluster_id as previous_cluster_id,
        earlier.segment_label as previous_segment_label,
        latest.cluster_id,
        latest.segment_label,
        coalesce(latest.customer_id, earlier.customer_id) as customer_id,
        case
            when earlier.customer_id is null then 'new'
            when latest.customer_id is null then 'gone'
            when earlier.cluster_id = latest.cluster_id then 'stayed'
            else 'moved'
        end as change_type
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
        previous_segment_label,
        cluster_id,
        segment_label,
        change_type
    from compared
)

select * from final

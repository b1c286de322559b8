-- The movement matrix since the previous run: how many customers went from each cluster to
-- each cluster, with both labels (same cluster on both sides: stayed; a null side is a
-- customer new or gone since then). Empty after the first run. Counted from segment_changes
-- and the segments' sizes rather than from every customer again: those who stayed in a
-- cluster are its customers now, less those who came to it (moved in or new).
with

changes as (
    select * from segment_changes
),

segments as (
    select * from segment_history
),

compared_runs as (
    select * from int_compared_runs
),

-- those who moved, came or went
changed as (
    select
        previous_cluster_id,
        previous_segment_label,
        cluster_id,
        segment_label,
        count(*) as customers
    from changes
    group by previous_cluster_id, previous_segment_label, cluster_id, segment_label
),

-- those who came to each cluster
arrived as (
    select
        cluster_id,
        count(*) as customers
    from changes
    where cluster_id is not null
    group by cluster_id
),

stayed as (
    select
        current_segments.cluster_id as previous_cluster_id,
        previous_segments.segment_label as previous_segment_label,
        current_segments.cluster_id,
        current_segments.segment_label,
        current_segments.customers - coalesce(arrived.customers, 0) as customers
    from compared_runs
    inner join segments as current_segments
        on compared_runs.run_id = current_segments.run_id
    -- a left join: a previous run recorded without segment_history still has its stayers (a
    -- cluster new in this run has none: all its customers came to it)
    left join segments as previous_segments
        on
            compared_runs.previous_run_id = previous_segments.run_id
            and current_segments.cluster_id = previous_segments.cluster_id
    left join arrived on current_segments.cluster_id = arrived.cluster_id
    where compared_runs.previous_run_id is not null
),

final as (
    select * from changed
    union all
    select * from stayed
    where customers > 0
)

select * from final

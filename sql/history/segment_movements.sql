-- The movement matrix since the previous run: how many customers went from each cluster to
-- each cluster, with both labels (same cluster on both sides: stayed; a null side is a
-- customer new or gone since then). Empty after the first run.
with

comparison as (
    select * from int_segment_comparison
),

segments as (
    select * from segment_history
),

moves as (
    select
        previous_run_id,
        run_id,
        previous_cluster_id,
        cluster_id,
        count(*) as customers
    from comparison
    group by previous_run_id, run_id, previous_cluster_id, cluster_id
),

final as (
    select
        moves.previous_cluster_id,
        previous_segments.segment_label as previous_segment_label,
        moves.cluster_id,
        current_segments.segment_label,
        moves.customers
    from moves
    left join segments as previous_segments
        on
            moves.previous_run_id = previous_segments.run_id
            and moves.previous_cluster_id = previous_segments.cluster_id
    left join segments as current_segments
        on
            moves.run_id = current_segments.run_id
            and moves.cluster_id = current_segments.cluster_id
)

select * from final

-- The customers whose cluster changed since the previous run: moved from one segment to
-- another, new since then, or gone since then, with both labels. Empty after the first run.
with

comparison as (
    select * from int_segment_comparison
),

segments as (
    select * from segment_history
),

changed as (
    select *
    from comparison
    where previous_cluster_id is distinct from cluster_id
),

final as (
    select
        changed.customer_id,
        changed.previous_run_id,
        changed.run_id,
        changed.previous_cluster_id,
        previous_segments.segment_label as previous_segment_label,
        changed.cluster_id,
        current_segments.segment_label,
        case
            when changed.previous_cluster_id is null then 'new'
            when changed.cluster_id is null then 'gone'
            else 'moved'
        end as change_type
    from changed
    left join segments as previous_segments
        on
            changed.previous_run_id = previous_segments.run_id
            and changed.previous_cluster_id = previous_segments.cluster_id
    left join segments as current_segments
        on
            changed.run_id = current_segments.run_id
            and changed.cluster_id = current_segments.cluster_id
)

select * from final

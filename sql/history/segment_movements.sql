-- The movement matrix since the previous run: how many customers went from each cluster to
-- each cluster, with both labels (same cluster on both sides: stayed; a null side is a
-- customer new or gone since then). Empty after the first run.
with

comparison as (
    select * from segment_comparison
),

final as (
    select
        previous_cluster_id,
        previous_segment_label,
        cluster_id,
        segment_label,
        count(*) as customers
    from comparison
    group by previous_cluster_id, previous_segment_label, cluster_id, segment_label
)

select * from final

-- The customers whose segment changed since the previous run: moved from one segment to
-- another, new since then, or gone since then. Empty after the first run.
with

comparison as (
    select * from segment_comparison
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
    from comparison
    where change_type <> 'stayed'
)

select * from final

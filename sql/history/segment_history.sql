-- Every run's segments, one row per run and segment: label, size and profile, so segments can
-- be followed over time. The earlier runs are carried over from the live warehouse.
with

earlier as (
    select * from previous_segment_history
),

segments as (
    select * from segment_summary
),

run as (
    select * from this_run
),

this_run_segments as (
    select
        run.run_id,
        segments.cluster_id,
        segments.segment_label,
        segments.customers,
        segments.share_of_customers,
        segments.avg_annual_income_k,
        segments.avg_spending_score,
        segments.avg_age
    from segments
    cross join run
),

final as (
    select
        run_id,
        cluster_id,
        segment_label,
        customers,
        share_of_customers,
        avg_annual_income_k,
        avg_spending_score,
        avg_age
    from earlier
    union all by name
    select * from this_run_segments
)

select * from final

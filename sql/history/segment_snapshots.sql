-- Every kept run's segments, one row per run and customer: the earlier runs carried over
-- from the live warehouse, then this run's.
with

earlier as (
    select * from previous_snapshots
),

customers as (
    select * from customer_segments
),

run as (
    select * from this_run
),

this_snapshot as (
    select
        run.run_id,
        customers.customer_id,
        customers.cluster_id,
        customers.segment_label
    from customers
    cross join run
),

final as (
    select
        run_id,
        customer_id,
        cluster_id,
        segment_label
    from earlier
    union all
    select
        run_id,
        customer_id,
        cluster_id,
        segment_label
    from this_snapshot
)

select * from final

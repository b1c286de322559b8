-- Every kept run's clusters, one row per run and customer: the earlier runs carried over from
-- the live warehouse, then this run's. Labels are per run and cluster, in segment_history. Ids
-- are kept as text, whatever type the input had.
with

earlier as (
    select * from previous_snapshots
),

clusters as (
    select * from customer_clusters
),

run as (
    select * from this_run
),

this_snapshot as (
    select
        run.run_id,
        clusters.customer_id::varchar as customer_id,
        clusters.cluster_id
    from clusters
    cross join run
),

final as (
    select
        run_id,
        customer_id,
        cluster_id
    from earlier
    union all by name
    select
        run_id,
        customer_id,
        cluster_id
    from this_snapshot
)

select * from final

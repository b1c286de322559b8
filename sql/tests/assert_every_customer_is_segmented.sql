-- Every valid customer has exactly one cluster and one segment, and the segments' sizes add
-- up to them: no one lost or doubled between staging, the assignment and the marts.
with

customers as (
    select count(*) as customer_count from stg_customers
),

clusters as (
    select count(*) as cluster_rows from customer_clusters
),

segments as (
    select count(*) as segment_rows from customer_segments
),

segment_sizes as (
    select sum(customers) as segment_size_total from segment_summary
),

final as (
    select
        customers.customer_count,
        clusters.cluster_rows,
        segments.segment_rows,
        segment_sizes.segment_size_total
    from customers
    cross join clusters
    cross join segments
    cross join segment_sizes
    where
        clusters.cluster_rows <> customers.customer_count
        or segments.segment_rows <> customers.customer_count
        or segment_sizes.segment_size_total <> customers.customer_count
)

select * from final

-- Every valid customer has exactly one cluster and one segment: no one lost or doubled
-- between staging, the assignment and the mart.
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

final as (
    select
        customers.customer_count,
        clusters.cluster_rows,
        segments.segment_rows
    from customers
    cross join clusters
    cross join segments
    where
        clusters.cluster_rows <> customers.customer_count
        or segments.segment_rows <> customers.customer_count
)

select * from final

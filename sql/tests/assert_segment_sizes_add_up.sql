-- Every clustered_customers customer is counted in exactly one segment.
with

segment_sizes as (
    select sum(customers) as segmented_customers from segment_summary
),

assignments as (
    select count(*) as clustered_customers from customer_clusters
),

final as (
    select
        segment_sizes.segmented_customers,
        assignments.clustered_customers
    from segment_sizes
    cross join assignments
    where segment_sizes.segmented_customers <> assignments.clustered_customers
)

select * from final

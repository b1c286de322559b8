-- Every customer's cluster (int_clustered_customers holds the rest of the assignment).
with

clustered as (
    select * from int_clustered_customers
),

final as (
    select
        customer_id,
        cluster_id
    from clustered
)

select * from final

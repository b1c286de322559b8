-- Every customer's cluster (clustered_customers holds the rest of the assignment).
with

clustered as (
    select * from clustered_customers
),

final as (
    select
        customer_id,
        cluster_id
    from clustered
)

select * from final

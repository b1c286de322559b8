-- One row per customer: who they are, their cluster and their segment's label.
with

customers as (
    select * from stg_customers
),

clusters as (
    select * from customer_clusters
),

segments as (
    select * from segment_summary
),

final as (
    select
        customers.customer_id,
        customers.gender,
        customers.age,
        customers.annual_income_k,
        customers.spending_score,
        clusters.cluster_id,
        segments.segment_label
    from customers
    inner join clusters on customers.customer_id = clusters.customer_id
    inner join segments on clusters.cluster_id = segments.cluster_id
)

select * from final

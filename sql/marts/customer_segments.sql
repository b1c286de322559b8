-- One row per customer: who they are, their cluster, their segment's label, how close they
-- sit to its centre, and their silhouette where it was scored.
with

clusters as (
    select * from clustered_customers
),

segments as (
    select * from segment_summary
),

silhouettes as (
    select * from customer_silhouettes
),

final as (
    select
        clusters.customer_id,
        clusters.gender,
        clusters.age,
        clusters.annual_income_k,
        clusters.spending_score,
        clusters.cluster_id,
        segments.segment_label,
        clusters.distance_to_centroid,
        silhouettes.silhouette
    from clusters
    inner join segments on clusters.cluster_id = segments.cluster_id
    left join silhouettes on clusters.customer_id = silhouettes.customer_id
)

select * from final

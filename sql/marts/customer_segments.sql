-- One row per customer: who they are, their cluster, their segment's label and how close they
-- sit to its centre (customer_silhouettes has the silhouettes of the scored customers).
with

clusters as (
    select * from clustered_customers
),

segments as (
    select * from segment_summary
),

final as (
    select
        columns(clusters.* exclude (cluster_id, distance_to_centroid)),
        clusters.cluster_id,
        segments.segment_label,
        clusters.distance_to_centroid
    from clusters
    inner join segments on clusters.cluster_id = segments.cluster_id
)

select * from final

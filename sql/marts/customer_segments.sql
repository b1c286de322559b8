-- One row per customer: who they are, their cluster, their segment's label and how close they
-- sit to its centre (customer_silhouettes has the silhouettes of the scored customers).
with

clusters as (
    select * from int_clustered_customers
),

segments as (
    select * from segment_summary
),

-- the customer's columns (those the model does not use too), then the segment
final as (
    select  -- noqa: ST06
        columns(clusters.* exclude (cluster_id, distance_to_centroid)),  -- noqa: RF02
        clusters.cluster_id,
        segments.segment_label,
        clusters.distance_to_centroid
    from clusters
    inner join segments on clusters.cluster_id = segments.cluster_id
)

select * from final

-- One row per segment and feature: how the segment's customers are spread on each feature of
-- the model, beside segment_summary, so a BI tool charts any feature without new SQL. A view:
-- the quartiles read every customer, which a build that does not show them need not do.
with

feature_values as (
    select * from int_customer_feature_values
),

profiles as (
    select * from int_segment_feature_profiles
),

segments as (
    select * from segment_summary
),

-- the three in one aggregate: each quantile holds every value of its group in memory
quartiles as (
    select
        cluster_id,
        position,
        quantile_cont(value, [0.25, 0.5, 0.75]) as quartiles
    from feature_values
    group by cluster_id, position
),

spread as (
    select
        quartiles.cluster_id,
        quartiles.position,
        quartiles.quartiles[1] as p25,
        quartiles.quartiles[2] as median,
        quartiles.quartiles[3] as p75
    from quartiles
),

final as (
    select
        profiles.cluster_id,
        segments.segment_label,
        profiles.position,
        profiles.feature,
        profiles.label,
        profiles.unit,
        profiles.transform,
        profiles.customers,
        profiles.mean,
        spread.median,
        spread.p25,
        spread.p75,
        profiles.min,
        profiles.max,
        profiles.z_score,
        profiles.band
    from profiles
    inner join segments on profiles.cluster_id = segments.cluster_id
    inner join spread
        on profiles.cluster_id = spread.cluster_id and profiles.position = spread.position
)

select * from final

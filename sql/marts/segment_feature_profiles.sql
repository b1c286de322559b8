-- One row per segment and feature: how the segment's customers are spread on each feature of
-- the model, beside segment_summary, so a BI tool charts any feature without new SQL.
with

profiles as (
    select * from int_segment_feature_profiles
),

segments as (
    select * from segment_summary
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
        profiles.median,
        profiles.p25,
        profiles.p75,
        profiles.min,
        profiles.max,
        profiles.z_score,
        profiles.band
    from profiles
    inner join segments on profiles.cluster_id = segments.cluster_id
)

select * from final

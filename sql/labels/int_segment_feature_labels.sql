-- One row per segment of a model on other features than the classic pair: a label naming each
-- feature's band ("High Total Spent · Low Total Orders"), or with the orders' recency and
-- frequency among the features the segment's RFM name (int_segment_rfm_names: Champions, At
-- Risk, ...); segments sharing one are told apart by where they sit on the feature that
-- separates them most ("At Risk (Higher orders)"). segment_summary takes these labels for any
-- model but the classic one.
with

feature_profiles as (
    select * from int_segment_feature_profiles
),

-- the label from each feature's band, in the order of model_features
band_labels as (
    select
        cluster_id,
        string_agg(band || ' ' || label, ' · ' order by position) as base_label,
        string_agg(
            format('{} {} (average {:,.2f})', band, label, mean), ', ' order by position
        ) || '.' as description
    from feature_profiles
    group by cluster_id
),

rfm_names as (
    select * from int_segment_rfm_names
),

-- a segment's RFM name (with the orders' recency and frequency among the features), else the
-- bands' label
feature_labels as (
    select  -- noqa: ST06
        band_labels.cluster_id,
        coalesce(rfm_names.segment_name, band_labels.base_label) as base_label,
        concat_ws(' ', rfm_names.description, band_labels.description) as description,
        rfm_names.persona,
        rfm_names.marketing_actions
    from band_labels
    left join rfm_names on band_labels.cluster_id = rfm_names.cluster_id
),

-- segments sharing a label: how far apart they lie on each feature
feature_spreads as (
    select
        feature_labels.base_label,
        feature_profiles.position,
        count(*) as segments,
        max(feature_profiles.z_score) - min(feature_profiles.z_score) as spread
    from feature_labels
    inner join feature_profiles on feature_labels.cluster_id = feature_profiles.cluster_id
    group by feature_labels.base_label, feature_profiles.position
),

-- the feature they are spread widest on (the first such on a tie)
feature_separators as (
    select
        base_label,
        any_value(segments) as segments,
        arg_max(position, (spread, -position)) as position  -- noqa: RF04
    from feature_spreads
    group by base_label
),

feature_placed as (
    select
        feature_labels.cluster_id,
        feature_labels.base_label,
        feature_labels.description,
        feature_labels.persona,
        feature_labels.marketing_actions,
        feature_separators.segments,
        feature_profiles.label as separating_feature,
        row_number() over (
            partition by feature_labels.base_label
            order by feature_profiles.z_score, feature_labels.cluster_id
        ) as place
    from feature_labels
    inner join feature_separators on feature_labels.base_label = feature_separators.base_label
    inner join feature_profiles
        on
            feature_labels.cluster_id = feature_profiles.cluster_id
            and feature_separators.position = feature_profiles.position
),

-- Lower / Higher for two, Lowest, 2nd-Lowest, ..., Middle, ..., Highest for more (read
-- with features other than the classic pair)
feature_segments as (
    select
        cluster_id,
        base_label,
        description,
        persona,
        marketing_actions,
        case
            when segments = 1 then base_label
            else base_label || ' (' || case
                when segments = 2 then if(place = 1, 'Lower', 'Higher')
                when place = 1 then 'Lowest'
                when place = segments then 'Highest'
                when 2 * place = segments + 1 then 'Middle'
                when 2 * place < segments + 1
                    then place || if(place = 2, 'nd', if(place = 3, 'rd', 'th')) || '-Lowest'
                else
                    (segments - place + 1)
                    || if(segments - place = 1, 'nd', if(segments - place = 2, 'rd', 'th'))
                    || '-Highest'
            end || ' ' || separating_feature || ')'
        end as segment_label
    from feature_placed
),

final as (
    select
        cluster_id,
        segment_label,
        base_label,
        persona,
        description,
        marketing_actions
    from feature_segments
)

select * from final

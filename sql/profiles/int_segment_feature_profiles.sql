-- One row per segment and feature (model_features): the segment's average, minimum and maximum
-- in the warehouse's unit, and where its average lies against all customers', on the scale
-- K-Means saw (after the transform), in population standard deviations: what the labels read.
with

feature_values as (
    select * from int_customer_feature_values
),

population as (
    select
        position,
        avg(model_value) as mean_model_value,
        stddev_pop(model_value) as std_model_value
    from feature_values
    group by position
),

profiles as (
    select
        cluster_id,
        position,
        count(*) as customers,
        avg(value) as mean,
        min(value) as minimum,
        max(value) as maximum,
        avg(model_value) as mean_model_value
    from feature_values
    group by cluster_id, position
),

declared as (
    select * from model_features
),

final as (
    select
        profiles.cluster_id,
        profiles.position,
        declared.feature,
        declared.label,
        declared.unit,
        declared.transform,
        profiles.customers,
        profiles.mean,
        profiles.minimum as min,
        profiles.maximum as max,
        -- to 12 decimals: a sum of floats in parallel varies in its last bits from run to run,
        -- and the band must not
        round(
            (profiles.mean_model_value - population.mean_model_value)
            / nullif(population.std_model_value, 0),
            12
        ) as z_score,
        -- High or Low beyond half a population standard deviation, as the classic labels
        case
            when z_score > 0.5 then 'High'
            when z_score < -0.5 then 'Low'
            else 'Moderate'
        end as band
    from profiles
    inner join population on profiles.position = population.position
    inner join declared on profiles.position = declared.position
)

select * from final

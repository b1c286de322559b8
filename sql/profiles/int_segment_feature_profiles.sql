-- One row per segment and feature (model_features): the segment's distribution of the
-- feature in the warehouse's unit, and where its average lies against all customers', on the
-- scale K-Means saw (after the transform), in population standard deviations.
with

-- scanned once per feature's aggregate rather than materialised: it holds every customer
clustered_customers as not materialized (
    select * from int_clustered_customers
),

-- each customer's value of each feature: (cluster_id, position, value, model_value)
feature_values as (
    {%- for feature in features %}
    {{ "union all" if not loop.first }}
    select
        cluster_id,
        {{ feature.position }} as position,  -- noqa: RF04
        {{ feature.ident }}::double as value,  -- noqa: RF04
        {{ feature.value_sql.format(feature.ident) }} as model_value
    from clustered_customers
    {%- endfor %}
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
        -- the three in one aggregate: each holds every value of its group in memory
        quantile_cont(value, [0.25, 0.5, 0.75]) as quartiles,
        min(value) as minimum,
        max(value) as maximum,
        avg(model_value) as mean_model_value
    from feature_values
    group by cluster_id, position
),

quartiled as (
    select
        profiles.* exclude (profiles.quartiles),
        profiles.quartiles[1] as p25,
        profiles.quartiles[2] as median,
        profiles.quartiles[3] as p75
    from profiles
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
        profiles.p25,
        profiles.median,
        profiles.p75,
        profiles.minimum as min,
        profiles.maximum as max,
        (profiles.mean_model_value - population.mean_model_value)
        / nullif(population.std_model_value, 0) as z_score,
        -- High or Low beyond half a population standard deviation, as the classic labels
        case
            when z_score > 0.5 then 'High'
            when z_score < -0.5 then 'Low'
            else 'Moderate'
        end as band
    from quartiled as profiles
    inner join population on profiles.position = population.position
    inner join declared on profiles.position = declared.position
)

select * from final

-- Every customer with their cluster: the nearest centroid in scaled units, computed here from
-- the scaler and centroids the Python step fitted, so the full table never travels to Python.
-- The customer's columns come along, so the marts read one table without joining again.
-- Loops over the features unroll into lists the linter cannot indent: its LT02 is off here.
-- noqa: disable=LT02
with

customers as (
    select * from stg_customers
),

scaling as (
    select * from feature_scaling
),

centroids as (
    select * from cluster_centroids
),

-- one row: each feature's mean and standard deviation, in the order of model_features
scaler as (
    select
        {%- for feature in features %}
        any_value(mean) filter (
            where feature = {{ feature.literal }}
        ) as mean_{{ feature.position }},
        any_value(std) filter (
            where feature = {{ feature.literal }}
        ) as std_{{ feature.position }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from scaling
),

-- centres as a list ordered by cluster_id, each in the order of model_features
centre_list as (
    select
        list(centroids.cluster_id order by centroids.cluster_id) as cluster_ids,
        list(
            [
                {%- for feature in features %}
                centroids.{{ feature.scaled_ident }}{{ "," if not loop.last }}
                {%- endfor %}
            ]
            order by centroids.cluster_id
        ) as centres
    from centroids
),

-- each feature as K-Means sees it: transformed, then standardised
scaled as (
    select
        customers.*,
        [
            {%- for feature in features %}
            (
                {{ feature.value_sql.format("customers." ~ feature.ident) }}
                - scaler.mean_{{ feature.position }}
            ) / scaler.std_{{ feature.position }}{{ "," if not loop.last }}
            {%- endfor %}
        ] as scaled_point
    from customers
    cross join scaler
),

distances as (
    select
        scaled.*,
        centre_list.cluster_ids,
        -- `centre` is the lambda's parameter, not a column
        list_transform(
            centre_list.centres,
            lambda centre: list_distance(centre, scaled.scaled_point)  -- noqa: RF02
        ) as distance
    from scaled
    cross join centre_list
),

final as (
    select
        -- the customer's columns, those the model does not use too
        columns(* exclude (scaled_point, cluster_ids, distance)),
        -- the first nearest centre on a tie
        cluster_ids[list_position(distance, list_min(distance))] as cluster_id,
        list_min(distance) as distance_to_centroid
    from distances
)

select * from final

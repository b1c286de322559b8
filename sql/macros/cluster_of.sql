-- cluster_of(<one argument per feature, in the order of model_features>): the cluster of a
-- customer with these values, in the units of the input file, from the stored declaration,
-- scaler and centroids: the same unit conversion, transform, scaling and nearest-centroid
-- rule as int_clustered_customers. Null when a value is missing or lies outside its accepted
-- range (model_features). The classic model's cluster_of(annual_income_k, spending_score)
-- keeps an `age := null` that only refuses an age outside its range (1 to 120). Plain SQL without
-- lambdas, so DuckDB 1.x clients can read the stored macro.
-- Loops over the features unroll into lists the linter cannot indent: its LT02 is off here.
-- noqa: disable=LT02
create or replace macro cluster_of(
    {%- for feature in features %}
    {{ feature.argument }}{{ "," if not loop.last }}
    {%- endfor %}
    {%- if classic_pair and "age" not in kinds %}, age := null{% endif %}
) as (
    with

    -- the arguments in warehouse units, read where no table's column can take their names
    -- (every column below is qualified for the same reason)
    arguments as (
        select
            {%- for feature in features %}
            {{ feature.argument }} / (1 / {{ feature.input_scale }}) as value_{{ loop.index }},
            {%- endfor %}
            {%- if classic_pair and "age" not in kinds %}
            coalesce(
                age between {{ classic.age.lowest }} and {{ classic.age.highest }}, true
            ) as is_age_accepted
            {%- else %}
            true as is_age_accepted
            {%- endif %}
    ),

    scaling as (
        select * from feature_scaling
    ),

    -- each feature's mean and standard deviation, in the order of model_features
    scaler as (
        select
            {%- for feature in features %}
            any_value(scaling.mean) filter (
                where scaling.feature = {{ feature.literal }}
            ) as mean_{{ loop.index }},
            any_value(scaling.std) filter (
                where scaling.feature = {{ feature.literal }}
            ) as std_{{ loop.index }}
            {{- "," if not loop.last }}
            {%- endfor %}
        from scaling
    ),

    -- the scaled centres
    centroids as (
        select
            cluster_centroids.cluster_id,
            {%- for feature in features %}
            cluster_centroids.{{ feature.scaled_ident }} as centre_{{ loop.index }}
            {{- "," if not loop.last }}
            {%- endfor %}
        from cluster_centroids
    ),

    -- none for a missing value or one outside its accepted range
    distances as (
        select
            centroids.cluster_id,
            {%- for feature in features %}
            {{ "+ " if not loop.first }}(
                (
                    {{ feature.value_sql.format("arguments.value_" ~ loop.index) }}
                    - scaler.mean_{{ loop.index }}
                ) / scaler.std_{{ loop.index }}
                - centroids.centre_{{ loop.index }}
            ) ** 2
            {%- endfor %} as squared_distance
        from centroids
        cross join scaler
        cross join arguments
        where
            arguments.is_age_accepted
            {%- for feature in features %}
            and arguments.value_{{ loop.index }} between
            {{ feature.accepted_min if feature.accepted_min is not none else -max_magnitude }}
            and {{ feature.accepted_max if feature.accepted_max is not none else max_magnitude }}
            {%- endfor %}
    )

    -- the lowest cluster number on a tie
    select arg_min(distances.cluster_id, (distances.squared_distance, distances.cluster_id))
    from distances
)

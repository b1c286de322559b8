-- cluster_of(<one argument per feature, in the order of model_features>): the cluster of a
-- customer with these values, in the units of the input file, from the stored declaration,
-- scaler and centroids: the same unit conversion, transform, scaling and nearest-centroid
-- rule as int_clustered_customers. Null when a value is missing or lies outside its accepted
-- range (model_features). The classic model's cluster_of(annual_income_k, spending_score)
-- keeps an `age := null` that only refuses an age outside 1 to 120. Plain SQL without
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

    scaling as (
        select * from feature_scaling
    ),

    -- each feature's mean and standard deviation, in the order of model_features
    scaler as (
        select
            {%- for feature in features %}
            any_value(mean) filter (where feature = {{ feature.literal }}) as mean_{{ loop.index }},
            any_value(std) filter (where feature = {{ feature.literal }}) as std_{{ loop.index }}
            {{- "," if not loop.last }}
            {%- endfor %}
        from scaling
    ),

    -- the scaled centres, under names no argument takes
    centroids as (
        select
            cluster_id,
            {%- for feature in features %}
            {{ feature.scaled_ident }} as centre_{{ loop.index }}{{ "," if not loop.last }}
            {%- endfor %}
        from cluster_centroids
    ),

    distances as (
        select
            centroids.cluster_id,
            {%- for feature in features %}
            {{ "+ " if not loop.first }}(
                (
                    {{ feature.value_sql.format(feature.argument ~ " * " ~ feature.input_scale) }}
                    - scaler.mean_{{ loop.index }}
                ) / scaler.std_{{ loop.index }}
                - centroids.centre_{{ loop.index }}
            ) ** 2
            {%- endfor %} as squared_distance
        from centroids
        cross join scaler
    )

    -- the lowest cluster number on a tie; none for a missing value or one outside its range
    select arg_min(cluster_id, (squared_distance, cluster_id))
    from distances
    where
        squared_distance is not null
        {%- for feature in features %}
        and {{ feature.argument }} * {{ feature.input_scale }} between
        {{ feature.accepted_min if feature.accepted_min is not none else -1e15 }}
        and {{ feature.accepted_max if feature.accepted_max is not none else 1e15 }}
        {%- endfor %}
        {%- if classic_pair and "age" not in kinds %}
        and coalesce(age between 1 and 120, true)
        {%- endif %}
)

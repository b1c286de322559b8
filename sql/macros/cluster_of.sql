-- cluster_of(annual_income_k, spending_score[, age]): the cluster of a customer with these
-- values, from the stored scaler and centroids (the same nearest-centroid rule as
-- int_clustered_customers). Null when a value the model uses is missing, and when a value lies
-- outside the accepted ranges (ACCEPTED_RANGES in python/segmentation/config.py: income at
-- least 0, spending score 1 to 100, age 1 to 120). Plain SQL without lambdas, so DuckDB 1.x
-- clients can read the stored macro.
create or replace macro cluster_of(annual_income_k, spending_score, age := null) as (
    with

    scaling as (
        select * from feature_scaling
    ),

    -- the scaled centres only: the original-unit columns share the arguments' names
    centroids as (
        select
            cluster_id,
            annual_income_k_scaled,
            spending_score_scaled,
            age_scaled
        from cluster_centroids
    ),

    squared_gaps as (
        select
            centroids.cluster_id,
            (
                (
                    case scaling.feature
                        -- the macro's arguments
                        when 'annual_income_k' then annual_income_k  -- noqa: RF02
                        when 'spending_score' then spending_score  -- noqa: RF02
                        when 'age' then age  -- noqa: RF02
                    end - scaling.mean
                ) / scaling.std
                - case scaling.feature
                    when 'annual_income_k' then centroids.annual_income_k_scaled
                    when 'spending_score' then centroids.spending_score_scaled
                    when 'age' then centroids.age_scaled
                end
            ) ** 2 as squared_gap
        from centroids
        cross join scaling
    ),

    distances as (
        select
            cluster_id,
            sum(squared_gap) as squared_distance
        from squared_gaps
        group by cluster_id
        -- every feature the model uses has a value
        having count(squared_gap) = count(*)
    )

    -- the lowest cluster number on a tie; none for a value outside the accepted ranges
    select arg_min(cluster_id, (squared_distance, cluster_id))
    from distances
    where
        -- the macro's arguments
        coalesce(annual_income_k >= 0, true)  -- noqa: RF02
        and coalesce(spending_score between 1 and 100, true)  -- noqa: RF02
        and coalesce(age between 1 and 120, true)  -- noqa: RF02
)

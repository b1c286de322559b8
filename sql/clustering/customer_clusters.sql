-- Every customer's cluster: the nearest centroid in scaled units, computed here from the
-- scaler and centroids the Python step fitted, so the full table never travels to Python.
with

features as (
    select * from customer_features
),

scaling as (
    select * from feature_scaling
),

centroids as (
    select * from cluster_centroids
),

income_scaling as (
    select
        mean as income_mean,
        std as income_std
    from scaling
    where feature = 'annual_income_k'
),

spending_scaling as (
    select
        mean as spending_mean,
        std as spending_std
    from scaling
    where feature = 'spending_score'
),

-- centroids as a list ordered by cluster_id, so position - 1 is the cluster number
centroid_list as (
    select
        list(
            [annual_income_k_scaled, spending_score_scaled] order by cluster_id
        ) as centres
    from centroids
),

scaled as (
    select
        features.customer_id,
        [
            (features.annual_income_k - income_scaling.income_mean)
            / income_scaling.income_std,
            (features.spending_score - spending_scaling.spending_mean)
            / spending_scaling.spending_std
        ] as scaled_point
    from features
    cross join income_scaling
    cross join spending_scaling
),

distances as (
    select
        scaled.customer_id,
        -- `centre` is the lambda's parameter, not a column
        list_transform(
            centroid_list.centres,
            lambda centre: list_distance(centre, scaled.scaled_point)  -- noqa: RF02
        ) as distance
    from scaled
    cross join centroid_list
),

final as (
    select
        customer_id,
        -- the first nearest centre on a tie, as scikit-learn does
        (list_position(distance, list_min(distance)) - 1)::integer as cluster_id
    from distances
)

select * from final

-- Every customer with their cluster: the nearest centroid in scaled units, computed here from
-- the scaler and centroids the Python step fitted, so the full table never travels to Python.
-- The customer's columns come along, so the marts read one table without joining again.
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

-- one row: each candidate feature's mean and standard deviation, null when it is not used
scaler as (
    select
        any_value(mean) filter (where feature = 'annual_income_k') as income_mean,
        any_value(std) filter (where feature = 'annual_income_k') as income_std,
        any_value(mean) filter (where feature = 'spending_score') as spending_mean,
        any_value(std) filter (where feature = 'spending_score') as spending_std,
        any_value(mean) filter (where feature = 'age') as age_mean,
        any_value(std) filter (where feature = 'age') as age_std
    from scaling
),

-- centres as a list ordered by cluster_id; an unused feature is 0 in every centre and point
centre_list as (
    select
        list(cluster_id order by cluster_id) as cluster_ids,
        list(
            [annual_income_k_scaled, spending_score_scaled, coalesce(age_scaled, 0)]
            order by cluster_id
        ) as centres
    from centroids
),

scaled as (
    select
        customers.*,
        [
            (customers.annual_income_k - scaler.income_mean) / scaler.income_std,
            (customers.spending_score - scaler.spending_mean) / scaler.spending_std,
            coalesce((customers.age - scaler.age_mean) / scaler.age_std, 0)
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

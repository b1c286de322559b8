-- One row per segment: its size and share, the minimum, average and maximum of the classic
-- columns (income, spending score, age), its age bands and gender split, how tight it is, and
-- where its averages lie against the whole population's (in population standard deviations),
-- with the population's averages beside them. The labels and segment_summary read it.
with

-- scanned twice (population, profiles) rather than materialised: it holds every customer
clustered_customers as not materialized (
    select * from int_clustered_customers
),

population as (
    select
        count(*) as customers,
        avg(annual_income_k) as avg_annual_income_k,
        stddev_pop(annual_income_k) as std_annual_income_k,
        avg(spending_score) as avg_spending_score,
        stddev_pop(spending_score) as std_spending_score,
        avg(age) as avg_age,
        stddev_pop(age) as std_age
    from clustered_customers
),

profiles as (
    select
        cluster_id,
        count(*) as customers,
        avg(annual_income_k) as avg_annual_income_k,
        min(annual_income_k) as min_annual_income_k,
        max(annual_income_k) as max_annual_income_k,
        avg(spending_score) as avg_spending_score,
        min(spending_score) as min_spending_score,
        max(spending_score) as max_spending_score,
        avg(age) as avg_age,
        min(age) as min_age,
        max(age) as max_age,
        count(*) filter (where age < 30) as customers_under_30,
        count(*) filter (where age between 30 and 49) as customers_30_to_49,
        count(*) filter (where age >= 50) as customers_50_and_over,
        -- to 12 decimals: a sum of floats in parallel varies in its last bits from run to run
        round(avg(distance_to_centroid), 12) as avg_distance_to_centroid,
        count(*) filter (where gender = 'Female') as female_customers,
        count(*) filter (where gender = 'Male') as male_customers
    from clustered_customers
    group by cluster_id
),

final as (
    select  -- noqa: ST06
        profiles.*,
        profiles.customers / population.customers as share_of_customers,
        -- of the customers whose gender is known: unknown (null) where none is
        profiles.female_customers
        / nullif(profiles.female_customers + profiles.male_customers, 0) as share_female,
        round(
            (profiles.avg_annual_income_k - population.avg_annual_income_k)
            / nullif(population.std_annual_income_k, 0),
            12
        ) as income_z,
        round(
            (profiles.avg_spending_score - population.avg_spending_score)
            / nullif(population.std_spending_score, 0),
            12
        ) as spending_z,
        round((profiles.avg_age - population.avg_age) / nullif(population.std_age, 0), 12) as age_z,
        population.avg_annual_income_k as population_avg_annual_income_k,
        population.avg_spending_score as population_avg_spending_score,
        population.avg_age as population_avg_age
    from profiles
    cross join population
)

select * from final

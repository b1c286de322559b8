-- One row per segment: its size, share and profile, a label read from its averages against
-- the whole population's (never from the cluster's number), and the playbook for that label.
with

clustered_customers as (
    select * from clustered_customers
),

playbook as (
    select * from segment_playbook
),

run as (
    select * from this_run
),

population as (
    select
        count(*) as customers,
        avg(annual_income_k) as avg_annual_income_k,
        stddev_pop(annual_income_k) as std_annual_income_k,
        avg(spending_score) as avg_spending_score,
        stddev_pop(spending_score) as std_spending_score
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
        avg(distance_to_centroid) as avg_distance_to_centroid,
        count(*) filter (where gender = 'Female') as female_customers,
        count(*) filter (where gender = 'Male') as male_customers
    from clustered_customers
    group by cluster_id
),

-- High or Low: the segment's average lies more than half a population standard deviation
-- above or below the population's average; Moderate otherwise.
banded as (
    select
        profiles.*,
        profiles.customers / population.customers as share_of_customers,
        case
            when
                profiles.avg_annual_income_k - population.avg_annual_income_k
                > 0.5 * population.std_annual_income_k
                then 'High'
            when
                population.avg_annual_income_k - profiles.avg_annual_income_k
                > 0.5 * population.std_annual_income_k
                then 'Low'
            else 'Moderate'
        end as income_band,
        case
            when
                profiles.avg_spending_score - population.avg_spending_score
                > 0.5 * population.std_spending_score
                then 'High'
            when
                population.avg_spending_score - profiles.avg_spending_score
                > 0.5 * population.std_spending_score
                then 'Low'
            else 'Moderate'
        end as spending_band
    from profiles
    cross join population
),

labelled as (
    select
        banded.*,
        banded.share_of_customers < run.min_segment_share as is_small_segment,
        case
            when banded.income_band = 'Moderate' and banded.spending_band = 'Moderate'
                then 'Standard Customers'
            when banded.income_band = 'High' and banded.spending_band = 'High'
                then 'Target Customers'
            else banded.income_band || '-Income, ' || banded.spending_band || '-Spending'
        end as segment_label,
        banded.female_customers / banded.customers as share_female
    from banded
    cross join run
),

final as (
    select
        labelled.cluster_id,
        labelled.segment_label,
        labelled.income_band,
        labelled.spending_band,
        labelled.customers,
        labelled.share_of_customers,
        labelled.is_small_segment,
        labelled.avg_annual_income_k,
        labelled.min_annual_income_k,
        labelled.max_annual_income_k,
        labelled.avg_spending_score,
        labelled.min_spending_score,
        labelled.max_spending_score,
        labelled.avg_age,
        labelled.min_age,
        labelled.max_age,
        labelled.customers_under_30,
        labelled.customers_30_to_49,
        labelled.customers_50_and_over,
        labelled.female_customers,
        labelled.male_customers,
        labelled.share_female,
        labelled.avg_distance_to_centroid,
        playbook.persona,
        playbook.description,
        playbook.marketing_actions
    from labelled
    left join playbook on labelled.segment_label = playbook.segment_label
)

select * from final

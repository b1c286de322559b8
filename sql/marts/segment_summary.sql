-- One row per segment: its size, share and profile, and a label read from its averages
-- against the whole population's (never from the cluster's number, which K-Means may permute).
with

customers as (
    select * from stg_customers
),

clusters as (
    select * from customer_clusters
),

clustered_customers as (
    select
        customers.*,
        clusters.cluster_id
    from customers
    inner join clusters on customers.customer_id = clusters.customer_id
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
        *,
        case
            when income_band = 'Moderate' and spending_band = 'Moderate' then 'Standard Customers'
            when income_band = 'High' and spending_band = 'High' then 'Target Customers'
            else income_band || '-Income, ' || spending_band || '-Spending'
        end as segment_label,
        female_customers / customers as share_female
    from banded
),

final as (
    select
        cluster_id,
        segment_label,
        income_band,
        spending_band,
        customers,
        share_of_customers,
        avg_annual_income_k,
        min_annual_income_k,
        max_annual_income_k,
        avg_spending_score,
        min_spending_score,
        max_spending_score,
        avg_age,
        min_age,
        max_age,
        female_customers,
        male_customers,
        share_female
    from labelled
)

select * from final

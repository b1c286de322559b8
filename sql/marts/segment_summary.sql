-- One row per segment: its size, share and profile (int_segment_profiles), its label, bands and
-- playbook (int_segment_classic_labels for the study's income and spending model,
-- int_segment_feature_labels for any other), and whether it is too small to act on.
with

profiles as (
    select * from int_segment_profiles
),

labels as (
    {%- if classic_pair %}
    select * from int_segment_classic_labels
    {%- else %}
    select
        cluster_id,
        segment_label,
        base_label,
        null::varchar as income_band,
        null::varchar as spending_band,
        null::varchar as age_band,
        persona,
        description,
        marketing_actions
    from int_segment_feature_labels
    {%- endif %}
),

run as (
    select * from this_run
),

-- in the published order of the columns
final as (
    select  -- noqa: ST06
        profiles.cluster_id,
        labels.segment_label,
        labels.base_label,
        labels.income_band,
        labels.spending_band,
        labels.age_band,
        profiles.customers,
        profiles.share_of_customers,
        profiles.share_of_customers < run.min_segment_share as is_small_segment,
        profiles.avg_annual_income_k,
        profiles.min_annual_income_k,
        profiles.max_annual_income_k,
        profiles.avg_spending_score,
        profiles.min_spending_score,
        profiles.max_spending_score,
        profiles.avg_age,
        profiles.min_age,
        profiles.max_age,
        profiles.customers_under_30,
        profiles.customers_30_to_49,
        profiles.customers_50_and_over,
        profiles.female_customers,
        profiles.male_customers,
        profiles.share_female,
        profiles.avg_distance_to_centroid,
        labels.persona,
        labels.description,
        labels.marketing_actions
    from profiles
    inner join labels on profiles.cluster_id = labels.cluster_id
    cross join run
)

select * from final

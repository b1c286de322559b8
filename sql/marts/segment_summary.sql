-- One row per segment: its size, share and profile, a label read from its averages against
-- the whole population's (never from the cluster's number), and the playbook for that label.
-- Labels are unique within a run: segments sharing a label are told apart by their age band
-- (when age is a feature and the bands differ) or by where they sit on the feature that
-- separates them most (e.g. "Standard Customers (Higher Income)"). The classic labels,
-- personas and playbook are the income and spending model's; with other features the label
-- names each feature's band ("High Total Spent · Low Total Orders"), told apart the same way.
-- With the orders' recency and frequency among the features, a segment takes its RFM name
-- (int_segment_rfm_names: Champions, At Risk, ...); segments sharing one are told apart as
-- other labels are ("At Risk (Higher orders)").
with

-- scanned twice (population, profiles) rather than materialised: it holds every customer
clustered_customers as not materialized (
    select * from int_clustered_customers
),

playbook as (
    select * from segment_playbook
),

band_playbook as (
    select * from segment_band_playbook
),

scaling as (
    select * from feature_scaling
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
        stddev_pop(spending_score) as std_spending_score,
        avg(age) as avg_age,
        stddev_pop(age) as std_age
    from clustered_customers
),

uses_age as (
    select count(*) > 0 as has_age
    from scaling
    where feature = 'age'
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

-- each average in population standard deviations from the population's average
standardised as (
    select
        profiles.*,
        profiles.customers / population.customers as share_of_customers,
        (profiles.avg_annual_income_k - population.avg_annual_income_k)
        / nullif(population.std_annual_income_k, 0) as income_z,
        (profiles.avg_spending_score - population.avg_spending_score)
        / nullif(population.std_spending_score, 0) as spending_z,
        (profiles.avg_age - population.avg_age)
        / nullif(population.std_age, 0) as age_z
    from profiles
    cross join population
),

-- High or Low: the segment's average lies more than half a population standard deviation
-- above or below the population's average; Moderate otherwise. Age: Younger, Older or
-- Middle-Aged on the same rule.
banded as (
    select
        standardised.*,
        case
            when standardised.income_z > 0.5 then 'High'
            when standardised.income_z < -0.5 then 'Low'
            else 'Moderate'
        end as income_band,
        case
            when standardised.spending_z > 0.5 then 'High'
            when standardised.spending_z < -0.5 then 'Low'
            else 'Moderate'
        end as spending_band,
        case
            when standardised.age_z > 0.5 then 'Older'
            when standardised.age_z < -0.5 then 'Younger'
            when standardised.age_z is not null then 'Middle-Aged'
        end as age_band
    from standardised
),

based as (
    select
        banded.*,
        case
            when banded.income_band = 'Moderate' and banded.spending_band = 'Moderate'
                then 'Standard Customers'
            when banded.income_band = 'High' and banded.spending_band = 'High'
                then 'Target Customers'
            else banded.income_band || '-Income, ' || banded.spending_band || '-Spending'
        end as base_label
    from banded
),

-- segments sharing a base label: how many, how many age bands among them, and how far apart
-- they lie on each feature the run used
label_groups as (
    select
        based.base_label,
        count(*) as segments,
        count(distinct based.age_band) as age_bands,
        max(based.income_z) - min(based.income_z) as income_spread,
        max(based.spending_z) - min(based.spending_z) as spending_spread,
        case
            when any_value(uses_age.has_age) then max(based.age_z) - min(based.age_z)
        end as age_spread,
        any_value(uses_age.has_age) as has_age
    from based
    cross join uses_age
    group by based.base_label
),

-- what tells the segments of a group apart: the age band when age is a feature and every
-- segment of the group has its own; otherwise the feature they are spread widest on
separators as (
    select
        base_label,
        segments,
        case
            when segments = 1 then 'none'
            when has_age and age_bands = segments then 'age band'
            when
                age_spread is not null
                and age_spread > greatest(income_spread, spending_spread)
                then 'age'
            when spending_spread > income_spread then 'spending'
            else 'income'
        end as separated_by
    from label_groups
),

positioned as (
    select
        based.*,
        separators.segments as segments_with_base_label,
        separators.separated_by,
        case separators.separated_by
            when 'age' then based.age_z
            when 'spending' then based.spending_z
            else based.income_z
        end as separator_z,
        row_number() over (
            partition by based.base_label
            order by
                case separators.separated_by
                    when 'age' then based.age_z
                    when 'spending' then based.spending_z
                    else based.income_z
                end,
                based.cluster_id
        ) as position_in_group
    from based
    inner join separators on based.base_label = separators.base_label
),

-- the segment's place in its group on the separating feature: Lower / Higher for two,
-- Lowest, 2nd-Lowest, ..., Middle, ..., Highest for more
placed as (
    select
        positioned.*,
        case
            when positioned.segments_with_base_label = 2
                then case when positioned.position_in_group = 1 then 'lower' else 'higher' end
            when positioned.position_in_group = 1 then 'lowest'
            when positioned.position_in_group = positioned.segments_with_base_label
                then 'highest'
            when 2 * positioned.position_in_group = positioned.segments_with_base_label + 1
                then 'middle'
            when 2 * positioned.position_in_group < positioned.segments_with_base_label + 1
                then 'nth lowest'
            else 'nth highest'
        end as place,
        -- 2nd, 3rd, ...: the place counted from the nearer end of the group
        least(
            positioned.position_in_group,
            positioned.segments_with_base_label - positioned.position_in_group + 1
        ) as rank_from_end
    from positioned
),

ranked as (
    select
        placed.*,
        placed.rank_from_end
        || case placed.rank_from_end when 2 then 'nd' when 3 then 'rd' else 'th' end as rank_word
    from placed
),

qualified as (
    select
        ranked.*,
        case
            when ranked.separated_by = 'none' then null
            when ranked.separated_by = 'age band' then ranked.age_band
            when ranked.separated_by = 'age'
                then case
                    when ranked.place = 'lower' then 'Younger'
                    when ranked.place = 'higher' then 'Older'
                    when ranked.place = 'lowest' then 'Youngest'
                    when ranked.place = 'highest' then 'Oldest'
                    when ranked.place = 'middle' then 'Middle-Aged'
                    when ranked.place = 'nth lowest' then ranked.rank_word || '-Youngest'
                    else ranked.rank_word || '-Oldest'
                end
            else
                case
                    when ranked.place = 'lower' then 'Lower'
                    when ranked.place = 'higher' then 'Higher'
                    when ranked.place = 'lowest' then 'Lowest'
                    when ranked.place = 'highest' then 'Highest'
                    when ranked.place = 'middle' then 'Middle'
                    when ranked.place = 'nth lowest' then ranked.rank_word || '-Lowest'
                    else ranked.rank_word || '-Highest'
                end
                || case ranked.separated_by when 'income' then ' Income' else ' Spending' end
        end as qualifier,
        -- which way the segment leans within its group, for the playbook's extra advice
        case
            when ranked.separated_by = 'age band' then ranked.age_band
            when ranked.separated_by = 'age'
                then case
                    when ranked.place in ('lower', 'lowest') or ranked.place = 'nth lowest'
                        then 'Younger'
                    when ranked.place = 'middle' then 'Middle-Aged'
                    else 'Older'
                end
            when ranked.separated_by in ('income', 'spending')
                then case
                    when ranked.place in ('lower', 'lowest') or ranked.place = 'nth lowest'
                        then 'Low'
                    when ranked.place = 'middle' then 'Moderate'
                    else 'High'
                end
        end as separator_band
    from ranked
),

labelled as (
    select
        qualified.*,
        coalesce(
            qualified.base_label || ' (' || qualified.qualifier || ')', qualified.base_label
        ) as segment_label,
        qualified.share_of_customers < run.min_segment_share as is_small_segment,
        -- of the customers whose gender is known: unknown (null) where none is
        qualified.female_customers
        / nullif(qualified.female_customers + qualified.male_customers, 0) as share_female,
        case
            when qualified.separated_by in ('age', 'age band')
                then format(
                    'Average age {:.0f}, against {:.0f} for all customers.',
                    qualified.avg_age, population.avg_age
                )
            when qualified.separated_by = 'income'
                then format(
                    'Average income {:.1f} k$, against {:.1f} k$ for all customers.',
                    qualified.avg_annual_income_k, population.avg_annual_income_k
                )
            when qualified.separated_by = 'spending'
                then format(
                    'Average spending score {:.1f}, against {:.1f} for all customers.',
                    qualified.avg_spending_score, population.avg_spending_score
                )
        end as qualifier_note
    from qualified
    cross join run
    cross join population
),

-- the playbook: the label's own entry when the seed has one; otherwise composed from the
-- entry for its income and spending bands (or, failing that, the bands' own advice) and the
-- advice for what sets it apart in its group
with_playbook as (
    select
        labelled.*,
        coalesce(
            exact.persona,
            base.persona || ', ' || lower(labelled.qualifier),
            format(
                '{}-income, {}-spending shoppers',
                lower(labelled.income_band),
                lower(labelled.spending_band)
            )
            || coalesce(', ' || lower(labelled.qualifier), '')
        ) as persona,
        coalesce(
            exact.description,
            concat_ws(
                ' ',
                coalesce(
                    base.description, concat_ws(' ', income.description, spending.description)
                ),
                separated.description,
                labelled.qualifier_note
            )
        ) as description,
        coalesce(
            exact.marketing_actions,
            concat_ws(
                ' ',
                coalesce(
                    base.marketing_actions,
                    concat_ws(' ', income.marketing_actions, spending.marketing_actions)
                ),
                separated.marketing_actions
            )
        ) as marketing_actions
    from labelled
    left join playbook as exact on labelled.segment_label = exact.segment_label
    left join playbook as base on labelled.base_label = base.segment_label
    left join band_playbook as income
        on income.feature = 'income' and labelled.income_band = income.band
    left join band_playbook as spending
        on spending.feature = 'spending' and labelled.spending_band = spending.band
    left join band_playbook as separated
        on
            separated.feature = case
                when labelled.separated_by in ('age', 'age band') then 'age'
                else labelled.separated_by
            end
            and labelled.separator_band = separated.band
),

feature_profiles as (
    select * from int_segment_feature_profiles
),

-- the label from each feature's band, in the order of model_features
band_labels as (
    select
        cluster_id,
        string_agg(band || ' ' || label, ' · ' order by position) as base_label,
        string_agg(
            format('{} {} (average {:,.2f})', band, label, mean), ', ' order by position
        ) || '.' as description
    from feature_profiles
    group by cluster_id
),

rfm_names as (
    select * from int_segment_rfm_names
),

-- a segment's RFM name (with the orders' recency and frequency among the features), else the
-- bands' label
feature_labels as (
    select  -- noqa: ST06
        band_labels.cluster_id,
        coalesce(rfm_names.segment_name, band_labels.base_label) as base_label,
        concat_ws(' ', rfm_names.description, band_labels.description) as description,
        rfm_names.persona,
        rfm_names.marketing_actions
    from band_labels
    left join rfm_names on band_labels.cluster_id = rfm_names.cluster_id
),

-- segments sharing a label: how far apart they lie on each feature
feature_spreads as (
    select
        feature_labels.base_label,
        feature_profiles.position,
        count(*) as segments,
        max(feature_profiles.z_score) - min(feature_profiles.z_score) as spread
    from feature_labels
    inner join feature_profiles on feature_labels.cluster_id = feature_profiles.cluster_id
    group by feature_labels.base_label, feature_profiles.position
),

-- the feature they are spread widest on (the first such on a tie)
feature_separators as (
    select
        base_label,
        any_value(segments) as segments,
        arg_max(position, (spread, -position)) as position  -- noqa: RF04
    from feature_spreads
    group by base_label
),

feature_placed as (
    select
        feature_labels.cluster_id,
        feature_labels.base_label,
        feature_labels.description,
        feature_labels.persona,
        feature_labels.marketing_actions,
        feature_separators.segments,
        feature_profiles.label as separating_feature,
        row_number() over (
            partition by feature_labels.base_label
            order by feature_profiles.z_score, feature_labels.cluster_id
        ) as place
    from feature_labels
    inner join feature_separators on feature_labels.base_label = feature_separators.base_label
    inner join feature_profiles
        on
            feature_labels.cluster_id = feature_profiles.cluster_id
            and feature_separators.position = feature_profiles.position
),

-- Lower / Higher for two, Lowest, 2nd-Lowest, ..., Middle, ..., Highest for more (read
-- with features other than the classic pair)
feature_segments as (  -- noqa: ST03
    select
        cluster_id,
        base_label,
        description,
        persona,
        marketing_actions,
        case
            when segments = 1 then base_label
            else base_label || ' (' || case
                when segments = 2 then if(place = 1, 'Lower', 'Higher')
                when place = 1 then 'Lowest'
                when place = segments then 'Highest'
                when 2 * place = segments + 1 then 'Middle'
                when 2 * place < segments + 1
                    then place || if(place = 2, 'nd', if(place = 3, 'rd', 'th')) || '-Lowest'
                else
                    (segments - place + 1)
                    || if(segments - place = 1, 'nd', if(segments - place = 2, 'rd', 'th'))
                    || '-Highest'
            end || ' ' || separating_feature || ')'
        end as segment_label
    from feature_placed
),

chosen as (
    {%- if classic_pair %}
    select
        cluster_id,
        segment_label,
        base_label,
        income_band,
        spending_band,
        age_band,
        persona,
        description,
        marketing_actions
    from with_playbook
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
    from feature_segments
    {%- endif %}
),

final as (
    select
        with_playbook.cluster_id,
        chosen.segment_label,
        chosen.base_label,
        chosen.income_band,
        chosen.spending_band,
        chosen.age_band,
        with_playbook.customers,
        with_playbook.share_of_customers,
        with_playbook.is_small_segment,
        with_playbook.avg_annual_income_k,
        with_playbook.min_annual_income_k,
        with_playbook.max_annual_income_k,
        with_playbook.avg_spending_score,
        with_playbook.min_spending_score,
        with_playbook.max_spending_score,
        with_playbook.avg_age,
        with_playbook.min_age,
        with_playbook.max_age,
        with_playbook.customers_under_30,
        with_playbook.customers_30_to_49,
        with_playbook.customers_50_and_over,
        with_playbook.female_customers,
        with_playbook.male_customers,
        with_playbook.share_female,
        with_playbook.avg_distance_to_centroid,
        chosen.persona,
        chosen.description,
        chosen.marketing_actions
    from with_playbook
    inner join chosen on with_playbook.cluster_id = chosen.cluster_id
)

select * from final

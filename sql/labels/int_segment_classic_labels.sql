-- One row per segment of the classic model (income and spending, age beside them): a label
-- read from its averages against the whole population's (never from the cluster's number),
-- unique within a run, and the playbook for that label. High or Low: more than half a
-- population standard deviation above or below the population's average; segments sharing a
-- label are told apart by their age band (when age is a feature and the bands differ) or by
-- where they sit on the feature that separates them most ("Standard Customers (Higher
-- Income)"). segment_summary takes these labels for the classic model.
with

standardised as (
    select * from int_segment_profiles
),

playbook as (
    select * from segment_playbook
),

band_playbook as (
    select * from segment_band_playbook
),

words as (
    select * from place_words
),

scaling as (
    select * from feature_scaling
),

uses_age as (
    select count(*) > 0 as has_age
    from scaling
    where feature = 'age'
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

separated as (
    select
        based.*,
        separators.segments as segments_with_base_label,
        separators.separated_by,
        case separators.separated_by
            when 'age' then based.age_z
            when 'spending' then based.spending_z
            else based.income_z
        end as separator_z
    from based
    inner join separators on based.base_label = separators.base_label
),

positioned as (
    select
        separated.*,
        row_number() over (
            partition by separated.base_label
            order by separated.separator_z, separated.cluster_id
        ) as position_in_group
    from separated
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
            else
                if(ranked.place like 'nth %', ranked.rank_word, '')
                || words.word
                || case ranked.separated_by
                    when 'age' then '' when 'income' then ' Income' else ' Spending'
                end
        end as qualifier,
        -- which way the segment leans within its group, for the playbook's extra advice
        case
            when ranked.separated_by = 'age band' then ranked.age_band
            when ranked.separated_by in ('age', 'income', 'spending') then words.band
        end as separator_band
    from ranked
    left join words
        on
            ranked.place = words.place
            and words.axis = if(ranked.separated_by = 'age', 'age', 'amount')
),

labelled as (
    select
        qualified.*,
        coalesce(
            qualified.base_label || ' (' || qualified.qualifier || ')', qualified.base_label
        ) as segment_label,
        case
            when qualified.separated_by in ('age', 'age band')
                then format(
                    'Average age {:.0f}, against {:.0f} for all customers.',
                    qualified.avg_age, qualified.population_avg_age
                )
            when qualified.separated_by = 'income'
                then format(
                    'Average income {:.1f} k$, against {:.1f} k$ for all customers.',
                    qualified.avg_annual_income_k, qualified.population_avg_annual_income_k
                )
            when qualified.separated_by = 'spending'
                then format(
                    'Average spending score {:.1f}, against {:.1f} for all customers.',
                    qualified.avg_spending_score, qualified.population_avg_spending_score
                )
        end as qualifier_note
    from qualified
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

final as (
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
)

select * from final

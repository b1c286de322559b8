-- Every data line of the input, typed where it can be, with every reason it cannot be used
-- (the line's text stays in raw_customers: customer_rejects keeps it for the rejected lines).
-- Whole numbers are gated by a regex first: try_cast alone would accept '19.5', '1e2', '0x10'.
with

raw_lines as (
    select * from raw_customers
),

-- what people write for "no value", compared lower-case after trimming
missing_markers as (
    select ['', '?', 'na', 'n/a', 'nan', 'null', 'none', '-'] as markers
),

-- trim() strips only spaces: fields without one (nearly all) skip it, which is much cheaper
trimmed as (
    select
        line_number,
        fields_found,
        fields_expected,
        if(contains(customer_id, ' '), trim(customer_id), customer_id) as customer_id,
        if(contains(gender, ' '), trim(gender), gender) as gender,
        if(contains(age, ' '), trim(age), age) as age,
        if(
            contains(annual_income_k, ' '), trim(annual_income_k), annual_income_k
        ) as annual_income_k,
        if(contains(spending_score, ' '), trim(spending_score), spending_score) as spending_score
    from raw_lines
),

typed as (
    select
        *,
        if(
            regexp_full_match(customer_id, '[0-9]{1,18}'), customer_id::bigint, null
        ) as customer_id_int,
        case lower(gender)
            when 'male' then 'Male'
            when 'm' then 'Male'
            when 'female' then 'Female'
            when 'f' then 'Female'
        end as gender_label,
        if(regexp_full_match(age, '-?[0-9]{1,9}'), age::integer, null) as age_int,
        if(
            regexp_full_match(annual_income_k, '-?[0-9]{1,9}'), annual_income_k::integer, null
        ) as annual_income_k_int,
        if(
            regexp_full_match(spending_score, '-?[0-9]{1,9}'), spending_score::integer, null
        ) as spending_score_int
    from trimmed
),

-- Checks run in order, so the costlier ones only see the few values that failed to type.
column_checks as (
    select
        typed.*,
        case
            when typed.customer_id_int is not null then null
            when
                typed.customer_id is null
                or list_contains(missing_markers.markers, lower(typed.customer_id))
                then 'customer_id is missing'
            else format('customer_id ''{}'' is not made of digits', left(typed.customer_id, 40))
        end as customer_id_problem,
        case
            when typed.gender_label is not null then null
            when typed.gender is null or list_contains(missing_markers.markers, lower(typed.gender))
                then 'gender is missing'
            else format('gender ''{}'' is not Male or Female', left(typed.gender, 40))
        end as gender_problem,
        case
            when typed.age_int between 1 and 120 then null
            when typed.age_int is not null
                then format('age {} is outside 1 to 120', typed.age_int)
            when typed.age is null or list_contains(missing_markers.markers, lower(typed.age))
                then 'age is missing'
            else format('age ''{}'' is not a whole number', left(typed.age, 40))
        end as age_problem,
        case
            when typed.annual_income_k_int between 0 and 100000 then null
            when typed.annual_income_k_int is not null
                then format('annual_income_k {} is outside 0 to 100000', typed.annual_income_k_int)
            when
                typed.annual_income_k is null
                or list_contains(missing_markers.markers, lower(typed.annual_income_k))
                then 'annual_income_k is missing'
            else format(
                'annual_income_k ''{}'' is not a whole number', left(typed.annual_income_k, 40)
            )
        end as annual_income_k_problem,
        case
            when typed.spending_score_int between 1 and 100 then null
            when typed.spending_score_int is not null
                then format('spending_score {} is outside 1 to 100', typed.spending_score_int)
            when
                typed.spending_score is null
                or list_contains(missing_markers.markers, lower(typed.spending_score))
                then 'spending_score is missing'
            else format(
                'spending_score ''{}'' is not a whole number', left(typed.spending_score, 40)
            )
        end as spending_score_problem
    from typed
    cross join missing_markers
),

-- Read three times below: kept (as DuckDB would) but only with the columns used later.
field_checks as materialized (
    select
        line_number,
        customer_id_int,
        gender_label,
        age_int,
        annual_income_k_int,
        spending_score_int,
        -- a row with too few or too many fields cannot be mapped to columns at all
        if(
            fields_found <> fields_expected,
            format('has {} fields where the header has {}', fields_found, fields_expected),
            nullif(
                concat_ws(
                    '; ',
                    customer_id_problem,
                    gender_problem,
                    age_problem,
                    annual_income_k_problem,
                    spending_score_problem
                ),
                ''
            )
        ) as field_problem
    from column_checks
),

-- Among rows whose fields are fine: an id repeated with the same values keeps its first
-- line; an id repeated with different values cannot be trusted on any of its lines.
repeated_ids as (
    select customer_id_int
    from field_checks
    where field_problem is null
    group by customer_id_int
    having count(*) > 1
),

repeated_id_lines as (
    select
        field_checks.customer_id_int,
        min(field_checks.line_number) as first_line,
        list_sort(list(field_checks.line_number)) as line_numbers,
        (
            min((
                field_checks.gender_label,
                field_checks.age_int,
                field_checks.annual_income_k_int,
                field_checks.spending_score_int
            ))
            <> max((
                field_checks.gender_label,
                field_checks.age_int,
                field_checks.annual_income_k_int,
                field_checks.spending_score_int
            ))
        ) as has_conflicting_rows
    from field_checks
    semi join repeated_ids on field_checks.customer_id_int = repeated_ids.customer_id_int
    where field_checks.field_problem is null
    group by field_checks.customer_id_int
),

final as (
    select
        field_checks.line_number,
        field_checks.customer_id_int as customer_id,
        field_checks.gender_label as gender,
        field_checks.age_int as age,
        field_checks.annual_income_k_int as annual_income_k,
        field_checks.spending_score_int as spending_score,
        case
            when field_checks.field_problem is not null then field_checks.field_problem
            when repeated_id_lines.has_conflicting_rows
                then format(
                    'customer_id {} has conflicting rows on lines {}',
                    field_checks.customer_id_int,
                    array_to_string(repeated_id_lines.line_numbers, ', ')
                )
            when field_checks.line_number > repeated_id_lines.first_line
                then format('duplicate of line {}', repeated_id_lines.first_line)
        end as reject_reason
    from field_checks
    left join repeated_id_lines
        on
            field_checks.customer_id_int = repeated_id_lines.customer_id_int
            and field_checks.field_problem is null
)

select * from final

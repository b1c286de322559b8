-- Every data record of the input, typed where it can be. Only what the model needs can
-- reject a record: its id and the features in use (income and spending; age when it is a
-- feature). A bad or missing value elsewhere keeps the customer: the value becomes null and
-- the problem is listed in value_issues. Columns the model does not use travel as text.
-- Numbers are gated by a regex first: try_cast alone would accept '1e2' and '0x10'.
-- The input's own columns travel through star expressions (columns(*), * exclude), which the
-- linter cannot resolve into names: its reference and column-order rules are off here.
-- noqa: disable=RF02,RF03,ST06
with

raw_rows as (
    select * from raw_customers
),

run_settings as (
    select features from this_run
),

input_settings as (
    select income_scale from raw_input
),

-- what people write for "no value", compared lower-case after trimming
missing_markers as (
    select ['', '?', 'na', 'n/a', 'nan', 'null', 'none', '-'] as markers
),

-- every field trimmed (trim() only where a space is: nearly every field skips it); an empty
-- field of a column the model does not use is null
trimmed as (
    select
        line_number,
        fields_found,
        fields_expected,
        line_problem,
        if(contains(customer_id, ' '), trim(customer_id), customer_id) as customer_id,
        if(contains(gender, ' '), trim(gender), gender) as gender,
        if(contains(age, ' '), trim(age), age) as age,
        if(
            contains(annual_income_k, ' '), trim(annual_income_k), annual_income_k
        ) as annual_income_k,
        if(contains(spending_score, ' '), trim(spending_score), spending_score) as spending_score,
        nullif(
            trim(
                columns(
                    * exclude (
                        line_number, raw_line, fields_found, fields_expected, line_problem,
                        customer_id, gender, age, annual_income_k, spending_score
                    )
                )
            ),
            ''
        )
    from raw_rows
),

-- Each value is typed by a cheap test first (plain digits, an exact label); only the few that
-- fail it meet the costlier rules. A missing marker is at most 4 characters long.
typed as (
    select
        trimmed.*,
        coalesce(
            length(trimmed.customer_id) <= 4
            and list_contains(missing_markers.markers, lower(trimmed.customer_id)),
            true
        ) as is_id_missing,
        case
            when trimmed.gender in ('Male', 'Female') then trimmed.gender
            when lower(trimmed.gender) in ('male', 'm') then 'Male'
            when lower(trimmed.gender) in ('female', 'f') then 'Female'
            when not list_contains(missing_markers.markers, lower(trimmed.gender))
                then trimmed.gender
        end as gender_label,
        coalesce(
            length(trimmed.gender) <= 4
            and list_contains(missing_markers.markers, lower(trimmed.gender)),
            true
        ) as is_gender_missing,
        case
            when regexp_full_match(trimmed.age, '[0-9]{1,3}') then trimmed.age::double
            when regexp_full_match(trimmed.age, '-?[0-9]+(\.0*)?')
                then try_cast(trimmed.age as double)
        end as age_number,
        -- an income may carry a dollar sign, thousands separators and decimals
        case
            when regexp_full_match(trimmed.annual_income_k, '[0-9]{1,15}')
                then trimmed.annual_income_k::double
            when
                regexp_full_match(
                    trimmed.annual_income_k,
                    '-?\$?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]*)?|-?\$?\.[0-9]+'
                )
                then try_cast(regexp_replace(trimmed.annual_income_k, '[$,]', '', 'g') as double)
        end as income_number,
        case
            when regexp_full_match(trimmed.spending_score, '[0-9]{1,3}')
                then trimmed.spending_score::double
            when regexp_full_match(trimmed.spending_score, '-?[0-9]+(\.0*)?')
                then try_cast(trimmed.spending_score as double)
        end as spending_number,
        list_contains(run_settings.features, 'age') as is_age_a_feature,
        missing_markers.markers
    from trimmed
    cross join missing_markers
    cross join run_settings
),

-- Checks run in order, so the costlier ones only see the few values that failed to type.
column_checks as (
    select
        *,
        case
            when is_id_missing then 'customer_id is missing'
            when length(customer_id) > 100 then 'customer_id is longer than 100 characters'
        end as customer_id_problem,
        case
            when age_number between 1 and 120 then null
            when age_number is not null or regexp_full_match(age, '-?[0-9]+(\.0*)?')
                then format('age {} is outside 1 to 120', age)
            when age is null or list_contains(markers, lower(age)) then 'age is missing'
            else format('age ''{}'' is not a whole number', left(age, 40))
        end as age_problem,
        case
            when income_number >= 0 and isfinite(income_number) then null
            when income_number < 0
                then format('annual_income_k {} is outside 0 to infinity', annual_income_k)
            when
                annual_income_k is null or list_contains(markers, lower(annual_income_k))
                then 'annual_income_k is missing'
            when income_number is not null
                then format('annual_income_k ''{}'' is too large', left(annual_income_k, 40))
            else format('annual_income_k ''{}'' is not a number', left(annual_income_k, 40))
        end as annual_income_k_problem,
        case
            when spending_number between 1 and 100 then null
            when
                spending_number is not null
                or regexp_full_match(spending_score, '-?[0-9]+(\.0*)?')
                then format('spending_score {} is outside 1 to 100', spending_score)
            when
                spending_score is null or list_contains(markers, lower(spending_score))
                then 'spending_score is missing'
            else format('spending_score ''{}'' is not a whole number', left(spending_score, 40))
        end as spending_score_problem
    from typed
),

-- Read three times below: kept (as DuckDB would) but only with the columns used later.
field_checks as materialized (
    select
        * exclude (
            fields_found, fields_expected, line_problem, customer_id, gender, age,
            annual_income_k, spending_score, is_id_missing, gender_label, is_gender_missing,
            age_number, income_number, spending_number, is_age_a_feature, markers,
            customer_id_problem, age_problem, annual_income_k_problem, spending_score_problem
        ),
        if(customer_id_problem is null, customer_id, null) as customer_id,
        gender_label as gender,
        if(age_problem is null, age_number::integer, null) as age,
        income_number as annual_income_k,
        if(spending_score_problem is null, spending_number::integer, null) as spending_score,
        -- a record with too few or too many fields cannot be mapped to columns at all
        case
            when line_problem is not null then line_problem
            when fields_found <> fields_expected
                then format('has {} fields where the header has {}', fields_found, fields_expected)
            else nullif(
                concat_ws(
                    '; ',
                    customer_id_problem,
                    if(is_age_a_feature, age_problem, null),
                    annual_income_k_problem,
                    spending_score_problem
                ),
                ''
            )
        end as field_problem,
        -- problems of the columns the model does not use: the customer is kept
        if(
            (age_problem is null or is_age_a_feature) and not is_gender_missing,
            null,
            list_filter(
                [
                    {
                        'column_name': 'age',
                        'raw_value': nullif(age, ''),
                        'problem': if(is_age_a_feature, null, age_problem)
                    },
                    {
                        'column_name': 'gender',
                        'raw_value': nullif(gender, ''),
                        'problem': if(is_gender_missing, 'gender is missing', null)
                    }
                ],
                lambda issue: issue.problem is not null
            )
        ) as value_issues
    from column_checks
),

-- Among records whose fields are fine: an id repeated with the same values keeps its first
-- line; an id repeated with different values cannot be trusted on any of its lines.
repeated_ids as (
    select customer_id
    from field_checks
    where field_problem is null
    group by customer_id
    having count(*) > 1
),

repeated_id_lines as (
    select
        field_checks.customer_id,
        min(field_checks.line_number) as first_line,
        list_sort(list(field_checks.line_number)) as line_numbers,
        count(
            distinct hash(
                *columns(field_checks.* exclude (line_number, field_problem, value_issues))
            )
        ) > 1 as has_conflicting_rows
    from field_checks
    semi join repeated_ids on field_checks.customer_id = repeated_ids.customer_id
    where field_checks.field_problem is null
    group by field_checks.customer_id
),

final as (
    select
        field_checks.line_number,
        field_checks.customer_id,
        field_checks.gender,
        field_checks.age,
        field_checks.annual_income_k * input_settings.income_scale as annual_income_k,
        field_checks.spending_score,
        -- the columns the model does not use, in input order
        columns(
            field_checks.* exclude (
                line_number, customer_id, gender, age, annual_income_k, spending_score,
                field_problem, value_issues
            )
        ),
        case
            when field_checks.field_problem is not null then field_checks.field_problem
            when repeated_id_lines.has_conflicting_rows
                then format(
                    'customer_id ''{}'' has conflicting rows on lines {}',
                    left(field_checks.customer_id, 40),
                    array_to_string(repeated_id_lines.line_numbers, ', ')
                )
            when field_checks.line_number > repeated_id_lines.first_line
                then format('duplicate of line {}', repeated_id_lines.first_line)
        end as reject_reason,
        field_checks.value_issues
    from field_checks
    cross join input_settings
    left join repeated_id_lines
        on
            field_checks.customer_id = repeated_id_lines.customer_id
            and field_checks.field_problem is null
)

select * from final

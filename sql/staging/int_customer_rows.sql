-- Every data record of the input, typed where it can be, with the problems of its own fields
-- (stg_customer_rows adds those between records: repeated ids). Only what the model needs can
-- reject a record: its id and the features in use (model_features). A bad or missing value
-- elsewhere keeps the customer: the value becomes null and the problem is listed in
-- value_issues. A feature of the input's own becomes a number; the other columns the model
-- does not use travel as text. Numbers are gated by a regex first: try_cast alone would accept
-- '1e2' and '0x10'. The input's own columns travel through star expressions (columns(*),
-- * exclude), which the linter cannot resolve into names: its reference and column-order rules
-- are off here.
-- Loops over the features unroll into lists the linter cannot indent: LT02 is off too.
-- noqa: disable=RF02,RF03,ST06,LT02
{%- set own = features | selectattr("kind", "equalto", "number") | list %}
{%- set used = features | map(attribute="feature") | list %}
{%- set classic_columns = ["age", "annual_income_k", "spending_score"] %}
{%- set not_features = classic_columns | reject("in", used) | list %}
{#- the columns checked, in order, each with its code's column, its name as a SQL literal, its
    text as read and the range it must lie in (the words of its reason) #}
{%- set checked = ["customer_id"] + (classic_columns | select("in", used) | list) %}
{%- set codes = {} %}
{%- set names = {} %}
{%- set raw = {} %}
{%- for column in ["customer_id"] + classic_columns %}
{%- set _ = codes.update({column: column ~ "_code"}) %}
{%- set _ = names.update({column: "'" ~ column ~ "'"}) %}
{%- set _ = raw.update({column: column}) %}
{%- endfor %}
{%- set ranges = {
    "customer_id": "",
    "age": classic.age.lowest ~ " to " ~ classic.age.highest,
    "annual_income_k": classic.income.lowest ~ " to infinity",
    "spending_score": classic.spending.lowest ~ " to " ~ classic.spending.highest,
} %}
{%- set lowest = {} %}
{%- for feature in own %}
{%- set low = feature.accepted_min if feature.accepted_min is not none else -max_magnitude %}
{%- set _ = checked.append(feature.feature) %}
{%- set _ = codes.update({feature.feature: "feature_" ~ feature.position ~ "_code"}) %}
{%- set _ = names.update({feature.feature: feature.literal}) %}
{%- set _ = raw.update({feature.feature: feature.ident}) %}
{%- set _ = ranges.update({feature.feature: "%g" | format(low) ~ " to infinity"}) %}
{%- set _ = lowest.update({feature.feature: low}) %}
{%- endfor %}
{#- a number as people write it (the macro number_from_text), with the file's decimal mark #}
{%- macro number(value) -%}
number_from_text({{ value }}, input_settings.has_decimal_comma)
{%- endmacro %}
{#- a label as it is compared: lower case, without padding, a final dot or what follows a colon
    ('Mme.', 'Total: 200') #}
{%- macro label(value) -%}
rtrim(lower(trim(split_part({{ value }}, ':', 1), conventions.padding_characters)), '.')
{%- endmacro %}
{#- a whole number (age, spending_score): plain digits first, then a sign or zero decimals #}
{%- macro whole_number(value) -%}
case
            when regexp_full_match({{ value }}, '[0-9]{1,3}') then {{ value }}::double
            when regexp_full_match({{ value }}, '[+-]?[0-9]+(\.0*)?')
                then try_cast({{ value }} as double)
        end
{%- endmacro %}
{#- Why a value cannot be used, as a code of the seed reject_reasons (null when it can). The
    whole number `column`, read as `value`: within the range of its `kind` #}
{%- macro whole_number_code(column, value, kind) -%}
case
            when {{ value }} between {{ kind.lowest }} and {{ kind.highest }} then null
            when {{ value }} is not null or regexp_full_match({{ column }}, '[+-]?[0-9]+(\.0*)?')
                then 'out_of_range'
            when {{ column }} is null or list_contains(markers, lower({{ column }})) then 'missing'
            else 'not_whole_number'
        end
{%- endmacro %}
{#- the number `column`, read as `value`: from `lowest` to at most 10^15 in size (max_magnitude);
    `low`: what reads as below the range rather than too large #}
{%- macro number_code(column, value, lowest, low) -%}
case
            when {{ value }} between {{ lowest }} and {{ max_magnitude }} then null
            when {{ low }} then 'out_of_range'
            when {{ column }} is null or list_contains(markers, lower({{ column }})) then 'missing'
            when {{ value }} is not null then 'too_large'
            else 'not_a_number'
        end
{%- endmacro %}
{#- a value's problem in words, from its `code`: `name` the column's name (a SQL literal),
    `column` its text as written, `range` what it must lie in #}
{%- macro problem_text(code, name, column, range="") -%}
case {{ code }}
                when 'missing' then {{ name }} || ' is missing'
                when 'too_long' then {{ name }} || ' is longer than 100 characters'
                when 'out_of_range' then {{ name }} || ' ' || {{ column }} || ' is outside {{ range }}'
                when 'too_large' then {{ name }} || ' ''' || left({{ column }}, 40) || ''' is too large'
                when 'not_a_number'
                    then {{ name }} || ' ''' || left({{ column }}, 40) || ''' is not a number'
                when 'not_whole_number'
                    then {{ name }} || ' ''' || left({{ column }}, 40) || ''' is not a whole number'
            end
{%- endmacro %}
{#- the fields of a record without an id that are neither blank nor numbers, as labels #}
{%- set texts -%}
list_transform(
                    list_filter(
                        record_values,
                        lambda v: not (
                            v is null
                            or list_contains(conventions.missing_markers, lower(v))
                            or regexp_full_match(v, '[+-]?[$€£]?[0-9][0-9 .,'']*%?')
                        )
                    ),
                    lambda v: {{ label("v") }}
                )
{%- endset %}
with

raw_rows as (
    select * from raw_customers
),

-- the income's unit, decimal mark and gender codes, which the loader decides for the whole file
input_settings as (
    select
        income_scale,
        has_decimal_comma,
        is_m_female
    from raw_input
),

-- the words and abbreviations of six languages for Female and Male (a seed)
known_genders as (
    select
        list(label order by label) as labels,
        list(gender order by label) as genders
    from gender_labels
),

-- what a spreadsheet writes beside a total or an average, in five languages (a seed)
summary_labels as (
    select list(label order by label) as labels from summary_row_labels
),

-- the warehouse columns the input has: one it lacks is not missing on every row
input_columns as (
    select list(column_name) as column_names from raw_columns
),

-- what reads as missing and what pads a value (seeds)
conventions as (
    select * from int_value_conventions
),

-- every field trimmed (trim() only where a space is: nearly every field skips it); an id is
-- trimmed of any padding at its ends too, so ' 1' + no-break space is customer 1, never a
-- look-alike of it; an empty field of a column the model does not use is null
trimmed as (
    select
        raw_rows.line_number,
        raw_rows.fields_found,
        raw_rows.fields_expected,
        raw_rows.line_problem,
        trim_padding(
            raw_rows.customer_id,
            conventions.padding_characters,
            conventions.padding_code_points
        ) as customer_id,
        {%- for column in ["gender"] + classic_columns %}
        if(contains({{ column }}, ' '), trim({{ column }}), {{ column }}) as {{ column }},
        {%- endfor %}
        nullif(
            trim(
                columns(
                    raw_rows.* exclude (
                        line_number, raw_line, fields_found, fields_expected, line_problem,
                        customer_id, gender, age, annual_income_k, spending_score
                    )
                )
            ),
            ''
        )
    from raw_rows
    cross join conventions
),

-- Each value is typed by a cheap test first (plain digits, an exact label); only the few that
-- fail it meet the costlier rules. An id longer than the longest missing marker is no marker.
typed as (
    select
        trimmed.*,
        coalesce(
            length(trimmed.customer_id) <= conventions.longest_missing_marker
            and list_contains(conventions.missing_markers, lower(trimmed.customer_id)),
            true
        ) as is_id_missing,
        -- the other fields of a record without an id, which may be a summary row's
        if(
            is_id_missing,
            list_value(
                *columns(
                    trimmed.* exclude (
                        line_number, fields_found, fields_expected, line_problem, customer_id
                    )
                )
            ),
            null
        ) as record_values,
        -- A summary row: its label in the id column, or, in a record without an id, in a field
        -- whose others are blank or numbers (the totals and averages). Ids that start with a
        -- digit are never labels: a case (evaluated only where its test holds, unlike and)
        -- spares most files the reading.
        case
            when is_id_missing
                then len({{ texts }}) > 0 and list_has_all(summary_labels.labels, {{ texts }})
            when ascii(trimmed.customer_id) >= 65 and length(trimmed.customer_id) <= 40
                then list_contains(summary_labels.labels, {{ label("trimmed.customer_id") }})
            else false
        end as is_summary_row,
        -- a label that is not exact is read in lower case without padding or a final dot
        -- ('Mme.', ' Herr'); one the seed does not know is kept as written
        case
            when trimmed.gender in ('Male', 'Female') then trimmed.gender
            when input_settings.is_m_female and {{ label("trimmed.gender") }} = 'm' then 'Female'
            when
                list_contains(known_genders.labels, {{ label("trimmed.gender") }})
                then known_genders.genders[
                    list_position(known_genders.labels, {{ label("trimmed.gender") }})
                ]
            when
                not list_contains(
                    conventions.missing_markers,
                    lower(trim(trimmed.gender, conventions.padding_characters))
                )
                then trim(trimmed.gender, conventions.padding_characters)
        end as gender_label,
        -- missing where the input has the column but no label came of it (the label, above)
        list_contains(input_columns.column_names, 'gender')
        and gender_label is null as is_gender_missing,
        {{ whole_number("trimmed.age") }} as age_number,
        -- an income may carry a dollar sign, thousands separators and decimals
        {{ number("trimmed.annual_income_k") }} as income_number,
        {{ whole_number("trimmed.spending_score") }} as spending_number,
        {%- for feature in own %}
        {{ number("trimmed." ~ feature.ident) }} as feature_{{ feature.position }}_number,
        {%- endfor %}
        input_columns.column_names,
        conventions.missing_markers as markers
    from trimmed
    cross join conventions
    cross join input_columns
    cross join input_settings
    cross join known_genders
    cross join summary_labels
),

-- Checks run in order, so the costlier ones only see the few values that failed to type. A
-- feature of the input's own is any number of at most 10^15 in size, from its accepted minimum.
column_checks as (
    select
        *,
        case
            when is_id_missing then 'missing'
            when length(customer_id) > 100 then 'too_long'
        end as customer_id_code,
        {{ whole_number_code("age", "age_number", classic.age) }} as age_code,
        {{ number_code(
            "annual_income_k", "income_number", classic.income.lowest,
            "income_number < " ~ classic.income.lowest
        ) }} as annual_income_k_code,
        {{ whole_number_code("spending_score", "spending_number", classic.spending) }}
        as spending_score_code
        {%- for feature in own %},
        {%- set value = "feature_" ~ feature.position ~ "_number" %}
        {{ number_code(
            feature.ident, value, lowest[feature.feature],
            value ~ " between -" ~ max_magnitude ~ " and " ~ max_magnitude
        ) }} as feature_{{ feature.position }}_code
        {%- endfor %}
    from typed
),

-- the reason a record is rejected: a code of the seed reject_reasons with the column at fault
-- (the first, in the order of the checks), and every problem in words
field_checks as (
    select
        * exclude (
            fields_found, fields_expected, line_problem, customer_id, gender, age,
            annual_income_k, spending_score, is_id_missing, record_values, is_summary_row,
            gender_label, is_gender_missing, age_number, income_number, spending_number, markers,
            {%- for feature in own %}
            feature_{{ feature.position }}_number, feature_{{ feature.position }}_code,
            {%- endfor %}
            customer_id_code, age_code, annual_income_k_code, spending_score_code
        )
        {%- if own %}
        replace (
            {%- for feature in own %}
            if(
                feature_{{ feature.position }}_code is null,
                feature_{{ feature.position }}_number,
                null
            ) as {{ feature.ident }}{{ "," if not loop.last }}
            {%- endfor %}
        )
        {%- endif %},
        if(customer_id_code is null, customer_id, null) as customer_id,
        gender_label as gender,
        if(age_code is null, age_number::integer, null) as age,
        if(annual_income_k_code is null, income_number, null) as annual_income_k,
        if(spending_score_code is null, spending_number::integer, null) as spending_score,
        -- a record with too few or too many fields cannot be mapped to columns at all
        case
            when is_summary_row then 'summary_row'
            when line_problem is not null then 'unreadable_line'
            when fields_found <> fields_expected then 'field_count'
            else coalesce(
                {%- for column in checked %}
                {{ codes[column] }}{{ "," if not loop.last }}
                {%- endfor %}
            )
        end as reason_code,
        case
            when is_summary_row or line_problem is not null or fields_found <> fields_expected
                then null
            {%- for column in checked %}
            when {{ codes[column] }} is not null then {{ names[column] }}
            {%- endfor %}
        end as reason_column,
        case
            when is_summary_row then 'a summary row, not a customer'
            when line_problem is not null then line_problem
            when fields_found <> fields_expected
                then format('has {} fields where the header has {}', fields_found, fields_expected)
            when reason_code is not null
                then concat_ws(
                    '; ',
                    {%- for column in checked %}
                    {{ problem_text(codes[column], names[column], raw[column], ranges[column]) }}
                    {{- "," if not loop.last }}
                    {%- endfor %}
                )
        end as field_problem,
        -- problems of the columns the model does not use (where the input has them): the
        -- customer is kept
        if(
            not is_gender_missing
            {%- for column in not_features %}
            and ({{ column }}_code is null or not list_contains(column_names, '{{ column }}'))
            {%- endfor %},
            null,
            list_filter(
                [
                    {%- for column in not_features %}
                    {
                        'column_name': '{{ column }}',
                        'raw_value': nullif({{ column }}, ''),
                        'problem': if(
                            list_contains(column_names, '{{ column }}'),
                            {{ problem_text(
                                codes[column], names[column], raw[column], ranges[column]
                            ) }},
                            null
                        )
                    },
                    {%- endfor %}
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

final as (
    select
        line_number,
        -- as ids are compared (an email in lower case, accents composed, full-width as ASCII):
        -- one customer, one spelling, whatever the rows' order or the export
        customer_key(customer_id) as customer_id,
        gender,
        age,
        -- divided by the unit's size (1,000 for dollars): one rounding, where a product with
        -- 0.001 (inexact in binary) lands off (58,800 dollars as 58.800000000000004 k$)
        annual_income_k / (1 / input_settings.income_scale) as annual_income_k,
        spending_score,
        -- the columns the model does not use, in input order
        columns(
            field_checks.* exclude (
                line_number, customer_id, gender, age, annual_income_k, spending_score,
                field_problem, reason_code, reason_column, value_issues, column_names
            )
        ),
        field_problem,
        reason_code,
        reason_column,
        value_issues
        {%- if orders == "joined" %},
        -- the id as the orders' ids are compared, for stg_customer_rows to join them by: in a
        -- table, so that no view calls customer_key (DuckDB 1.x, as BI drivers bundle it,
        -- cannot read a view calling a macro that uses if())
        customer_key(customer_id) as customer_key
        {%- endif %}
    from field_checks
    cross join input_settings
)

select * from final

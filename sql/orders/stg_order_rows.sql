-- Every data record of the orders file, typed where it can be, with every reason it cannot be used,
-- and why a usable one does not count (a repeat of an order's line in a later part, cancelled,
-- refunded or failed by its status, dated after --as-of, or a refund of an order that does not
-- count). Numbers are read as the customer file's are (number_from_text, with the file's decimal
-- mark); dates as shops, tills and spreadsheets write them: ISO (with a time and a zone too),
-- 20240305, 31.01.2024, slashes or dashes in the file's order (day first when its dates say so:
-- raw_order_input.is_day_first), and months by name (5 Mar 2024, March 5, 2024). A record without
-- an amount takes unit price times quantity; a further line of an order in a line-item export, its
-- order's date and status.
{#- what a status means by the seed order_statuses (order_status_key), null when it counts -#}
{%- macro status_meaning(status) -%}
excluded_statuses.meanings[list_position(excluded_statuses.statuses, order_status_key({{ status }}))]
{%- endmacro %}
{#- a currency as its code: upper case, trimmed, a sign that means one as it (€ as EUR; as
number_formats.currency_code does) -#}
{%- macro currency_code(value) -%}
coalesce(
            currency_signs.codes[list_position(currency_signs.signs, upper(trim({{ value }})))],
            upper(trim({{ value }}))
        )
{%- endmacro %}
{#- a negative amount, unit price or quantity holds a minus sign: found in the raw text -#}
{%- macro has_minus(row) -%}
coalesce(
            contains({{ row }}.amount, '-')
            or contains({{ row }}.unit_price, '-')
            or contains({{ row }}.quantity, '-')
            or starts_with(ltrim({{ row }}.amount), '('),
            false
        )
{%- endmacro %}
{#- a value as repeated lines are compared: trimmed, a number written with the file's decimal
mark without its decimal zeros (20.00 as 20, 20.50 as 20.5) -#}
{%- macro alike(value) -%}
{%- for mark, pattern in [(",", "-?[0-9]+,[0-9]*"), (".", "-?[0-9]+[.][0-9]*")] %}
{{- "case" if loop.first }}
            when
                {{ "" if mark == "," else "not " }}input_settings.has_decimal_comma
                and regexp_full_match(trim({{ value }}), '{{ pattern }}')
                then rtrim(rtrim(trim({{ value }}), '0'), '{{ mark }}')
{%- endfor %}
            else trim({{ value }})
        end
{%- endmacro %}
{#- a hash of a line of raw_orders by its order's fields, trimmed, a number's decimal zeros
aside: lines alike have the same. Any value with the file's decimal mark loses its final zeros,
without the test that it is a number (`alike`'s): cheap enough for every line, and alike
wherever `alike` says so -#}
-- the linter cannot follow the indent of a macro's loop: its LT02 is off for this one
-- noqa: disable=LT02
{%- macro order_hash() -%}
hash(
            {%- for column in ["order_id", "customer_id", "order_date", "status", "currency"] %}
            trim(raw_orders.{{ column }}),
            {%- endfor %}
            {%- for column in ["amount", "unit_price", "quantity"] %}
            if(
                contains(raw_orders.{{ column }}, input_settings.decimal_mark),
                rtrim(rtrim(trim(raw_orders.{{ column }}), '0'), input_settings.decimal_mark),
                trim(raw_orders.{{ column }})
            ){{ "," if not loop.last }}
            {%- endfor %}
        )
{%- endmacro %}
-- noqa: enable=LT02
with

raw_rows as (
    select * from raw_orders
),

input_settings as (
    select
        has_decimal_comma,
        is_day_first,
        is_year_first,
        currency as file_currency,
        has_currency_signs,
        has_amount,
        if(has_decimal_comma, ',', '.') as decimal_mark
    from raw_order_input
),

run as (
    select as_of_option from this_run
),

-- the currency signs that mean one currency wherever they are written (€: EUR), and its codes
currency_signs as (
    select
        {%- set signs = sign_codes.keys() | join("', '") %}
        {%- set codes = sign_codes.values() | join("', '") %}
        ['{{ signs }}'] as signs,
        ['{{ codes }}'] as codes
),

-- the statuses of orders that did not happen or were paid back, in seven languages (a seed)
excluded_statuses as (
    select
        list(status order by status) as statuses,
        list(meaning order by status) as meanings
    from order_statuses
    where meaning <> 'counted'
),

-- what a shop writes as the customer of an order without one (a seed)
guest_ids as (
    select list(label order by label) as labels from guest_customer_ids
),

-- what reads as missing and what pads a value (seeds)
conventions as (
    select * from int_value_conventions
),

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
        -- trim() only where a space is: nearly every field skips it
        nullif(
            if(contains(raw_rows.order_id, ' '), trim(raw_rows.order_id), raw_rows.order_id), ''
        ) as order_id,
        if(
            contains(raw_rows.order_date, ' '), trim(raw_rows.order_date), raw_rows.order_date
        ) as order_date,
        if(contains(raw_rows.amount, ' '), trim(raw_rows.amount), raw_rows.amount) as amount,
        if(
            contains(raw_rows.quantity, ' '), trim(raw_rows.quantity), raw_rows.quantity
        ) as quantity,
        if(
            contains(raw_rows.unit_price, ' '), trim(raw_rows.unit_price), raw_rows.unit_price
        ) as unit_price,
        nullif({{ currency_code("raw_rows.currency") }}, '') as currency,
        nullif(
            if(contains(raw_rows.status, ' '), trim(raw_rows.status), raw_rows.status), ''
        ) as order_status
    from raw_rows
    cross join conventions
    cross join currency_signs
),

-- An export of line items (Shopify's) writes an order's amount and status on its first line and
-- leaves them empty on its further lines, which hold the order id and an item (its date there or
-- not). Such a line, without an amount, of an order whose first line has one, is a line of that
-- order: it takes the order's customer (where blank), date, status and currency, and adds 0 to
-- its amount. The lookups below read the raw text with cheap tests,
-- apart from the chain that types the lines (a second reader of `trimmed` would hold every
-- line while they run: 3 s more for 7M orders, spilled), and type only the few lines they find.
continued_ids as (
    select distinct raw_orders.order_id
    from raw_orders
    cross join input_settings
    where
        input_settings.has_amount
        and coalesce(raw_orders.amount, '') = ''
        and coalesce(raw_orders.order_id, '') <> ''
),

-- each such order's first line with a date and an amount, trimmed as `trimmed` trims
order_heads as (
    select
        nullif(trim(raw_orders.order_id), '') as order_id,
        arg_min(
            {
                'customer_id': trim_padding(
                    raw_orders.customer_id,
                    conventions.padding_characters,
                    conventions.padding_code_points
                ),
                'order_date': trim(raw_orders.order_date),
                'order_status': nullif(trim(raw_orders.status), ''),
                'currency': nullif({{ currency_code("raw_orders.currency") }}, '')
            },
            raw_orders.line_number
        ) as head
    from raw_orders
    semi join continued_ids on raw_orders.order_id = continued_ids.order_id
    cross join conventions
    cross join currency_signs
    where
        coalesce(trim(raw_orders.amount), '') <> ''
        and coalesce(trim(raw_orders.order_date), '') <> ''
    group by nullif(trim(raw_orders.order_id), '')
),

filled as (
    select
        trimmed.* replace (
            if(
                order_heads.order_id is not null and coalesce(trimmed.customer_id, '') = '',
                order_heads.head.customer_id,
                trimmed.customer_id
            ) as customer_id,
            coalesce(order_heads.head.order_date, trimmed.order_date) as order_date,
            if(order_heads.order_id is not null, '0', trimmed.amount) as amount,
            coalesce(trimmed.order_status, order_heads.head.order_status) as order_status,
            coalesce(trimmed.currency, order_heads.head.currency) as currency
        )
    from trimmed
    left join order_heads
        on
            trimmed.order_id = order_heads.order_id
            and coalesce(trimmed.amount, '') = ''
),

-- a date of two short numbers and a year, split, unless it starts as an ISO date does: four
-- characters before its first dash (5-12-2023 and 10-3-24 have a dash sooner)
dated as (
    select
        filled.*,
        coalesce(
            filled.order_date[5] = '-'
            and filled.order_date[2] <> '-'
            and filled.order_date[3] <> '-',
            false
        ) as is_iso,
        if(
            is_iso,
            null,
            regexp_extract(
                filled.order_date,
                '^([0-9]{1,2})([./-])([0-9]{1,2})[./-]([0-9]{2}|[0-9]{4})(?:[ ,T].*)?$',
                ['first', 'mark', 'second', 'year']
            )
        ) as date_parts
    from filled
),

-- each value typed by its cheapest test first: an ISO date, plain digits
typed as (
    select  -- noqa: ST06
        dated.*,
        coalesce(
            length(dated.customer_id) <= conventions.longest_missing_marker
            and list_contains(conventions.missing_markers, lower(dated.customer_id)),
            true
        ) as is_id_missing,
        case
            when dated.is_iso then try_cast(dated.order_date as date)
            when regexp_full_match(dated.order_date, '[0-9]{8}')
                then try_strptime(dated.order_date, '%Y%m%d')::date
            when regexp_full_match(dated.order_date, '[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}([ T].*)?')
                then try_strptime(split_part(dated.order_date, ' ', 1), '%Y/%m/%d')::date
            -- three two-digit numbers where the file writes the year first (23-11-28)
            when
                dated.date_parts.year <> ''
                and input_settings.is_year_first
                and length(dated.date_parts.first) = 2
                and length(dated.date_parts.year) = 2
                then try_cast(
                    concat_ws(
                        '-',
                        '20' || dated.date_parts.first,
                        dated.date_parts.second,
                        dated.date_parts.year
                    ) as date
                )
            -- day, month and year in either order, by dots (always day first), slashes or dashes;
            -- a two-digit year is of the 2000s
            when dated.date_parts.year <> ''
                then try_cast(
                    concat_ws(
                        '-',
                        if(
                            length(dated.date_parts.year) = 2,
                            '20' || dated.date_parts.year,
                            dated.date_parts.year
                        ),
                        if(
                            input_settings.is_day_first or dated.date_parts.mark = '.',
                            dated.date_parts.second,
                            dated.date_parts.first
                        ),
                        if(
                            input_settings.is_day_first or dated.date_parts.mark = '.',
                            dated.date_parts.first,
                            dated.date_parts.second
                        )
                    ) as date
                )
            when regexp_matches(dated.order_date, '[A-Za-z]')
                then try_strptime(
                    dated.order_date,
                    [
                        '%d %b %Y', '%d %B %Y', '%b %d, %Y', '%B %d, %Y', '%b %d %Y', '%B %d %Y',
                        '%d-%b-%Y', '%d-%b-%y', '%d %b %Y %H:%M', '%d %b %Y %H:%M:%S'
                    ]
                )::date
        end as order_day,
        number_from_text(dated.amount, input_settings.has_decimal_comma) as amount_number,
        number_from_text(dated.unit_price, input_settings.has_decimal_comma) as unit_price_number,
        number_from_text(dated.quantity, input_settings.has_decimal_comma) as quantity_number,
        {{ status_meaning("dated.order_status") }} as status_meaning,
        conventions.missing_markers as markers
    from dated
    cross join input_settings
    cross join conventions
    cross join excluded_statuses
),

-- the amount: as written, else unit price times quantity; without a currency column, its
-- currency is the sign it carries ($, €, £), if any
valued as (
    select  -- noqa: ST06
        typed.* replace (
            if(
                input_settings.has_currency_signs,
                nullif(
                    regexp_extract(
                        if(input_settings.has_amount, typed.amount, typed.unit_price),
                        '[{{ numbers.currency_signs }}]'
                    ),
                    ''
                ),
                typed.currency
            ) as currency
        ),
        if(
            input_settings.has_amount,
            typed.amount_number,
            typed.unit_price_number * typed.quantity_number
        ) as value_number,
        if(input_settings.has_amount, typed.amount, typed.unit_price) as value_text,
        if(input_settings.has_amount, 'amount', 'unit_price') as value_column,
        input_settings.file_currency
    from typed
    cross join input_settings
),

-- why a value cannot be used, as a code of the seed reject_reasons; null when it can
checks as (
    select
        valued.*,
        case
            when valued.is_id_missing then 'missing'
            when length(valued.customer_id) > 100 then 'too_long'
        end as customer_id_code,
        case
            when valued.order_day between date '1900-01-01' and date '2199-12-31' then null
            when
                valued.order_date is null or list_contains(valued.markers, lower(valued.order_date))
                then 'missing'
            when valued.order_day is not null then 'out_of_range'
            else 'not_a_date'
        end as order_date_code,
        case
            when abs(valued.value_number) <= {{ max_magnitude }} then null
            -- a line that does not count by its status needs none (a cancelled order's is blank)
            when
                valued.value_text is null or list_contains(valued.markers, lower(valued.value_text))
                then if(valued.status_meaning is null, 'missing', null)
            when valued.value_number is not null then 'too_large'
            else 'not_a_number'
        end as amount_code,
        -- a price times a quantity that is not a number: the quantity is at fault
        if(
            amount_code = 'not_a_number'
            and not input_settings.has_amount
            and valued.unit_price_number is not null,
            'quantity',
            valued.value_column
        ) as amount_column,
        case
            when
                valued.currency is not null
                and valued.currency <> valued.file_currency
                and not list_contains(valued.markers, lower(valued.currency))
                then 'other_currency'
        end as currency_code
    from valued
    cross join input_settings
),

-- a line of an order repeated (every field alike, the order id too) in another part file of a
-- folder, as overlapping exports repeat it: it counts as often as the part holding it most
-- often has it (the first such part by name, on a tie), whatever the parts' names or order; its
-- lines in the other parts are duplicates of that part's first. Fields are alike
-- as read (a CSV quote is no part of one), trimmed, and a number's decimal zeros aside (20 and
-- 20.00, as a spreadsheet saves a month's export again). Within one file, two such lines are
-- two items alike (a till's export), and lines without an order id are orders each. Only in a
-- folder of several parts; its lines grouped by a hash of their order's fields first, and only
-- the few that repeat compared field by field.
repeated_hashes as (
    select
        {{ order_hash() }} as line_hash
    from raw_orders
    cross join input_settings
    where (select count(*) from raw_order_parts) > 1
    group by line_hash
    having count(*) > 1
),

repeated_rows as materialized (
    select raw_orders.line_number
    from raw_orders
    cross join input_settings
    where
        {{ order_hash() }} in (select repeated_hashes.line_hash from repeated_hashes)
        and trim(raw_orders.order_id) <> ''
),

-- each such line's fields, every one of them, as they are compared
repeated_fields as (
    select
        records.line_number,
        list_transform(records.fields, lambda f: {{ alike("f") }}) as compared_fields
    from raw_order_records as records
    cross join input_settings
    semi join repeated_rows on records.line_number = repeated_rows.line_number
),

-- each such line with the first line of its part
placed_lines as (
    select
        repeated_fields.line_number,
        repeated_fields.compared_fields,
        parts.first_line as part_start
    from repeated_fields
    asof inner join raw_order_parts as parts on repeated_fields.line_number >= parts.first_line
),

-- how often each part holds each such line, from which of its lines
part_copies as (
    select
        compared_fields,
        part_start,
        count(*) as copies,
        min(line_number) as first_line
    from placed_lines
    group by compared_fields, part_start
),

-- of each line repeated, the part that counts it: the one holding it most often, the first
-- on a tie
counting_parts as (
    select
        compared_fields,
        arg_max(part_start, (copies, -part_start)) as part_start,
        arg_max(first_line, (copies, -part_start)) as first_line
    from part_copies
    group by compared_fields
),

-- the lines of other parts, with the first line of the part that counts them
repeated_lines as (
    select
        placed_lines.line_number,
        counting_parts.first_line
    from placed_lines
    inner join counting_parts on placed_lines.compared_fields = counting_parts.compared_fields
    where placed_lines.part_start <> counting_parts.part_start
),

-- the orders a negative line refunds: few, so only their lines are grouped
refunded_ids as (
    select distinct raw_orders.order_id
    from raw_orders
    where coalesce(raw_orders.order_id, '') <> '' and {{ has_minus("raw_orders") }}
),

-- of those, the orders none of whose purchase lines (an amount without a minus sign; a further
-- line of a line-item export has none of its own) counts by its status (cancelled, refunded or
-- failed): their amounts were never spent, so a refund line of one is not subtracted again
uncounted_orders as (
    select nullif(trim(raw_orders.order_id), '') as order_id
    from raw_orders
    semi join refunded_ids on raw_orders.order_id = refunded_ids.order_id
    cross join excluded_statuses
    where
        coalesce(trim(raw_orders.amount), trim(raw_orders.unit_price), '') <> ''
        and not {{ has_minus("raw_orders") }}
    group by nullif(trim(raw_orders.order_id), '')
    having bool_and({{ status_meaning("nullif(trim(raw_orders.status), '')") }} is not null)
),

final as (
    select  -- noqa: ST06
        checks.line_number,
        if(checks.customer_id_code is null, checks.customer_id, null) as customer_id,
        checks.order_id,
        if(checks.order_date_code is null, checks.order_day, null) as order_date,
        if(checks.amount_code is null, coalesce(checks.value_number, 0), null) as amount,
        checks.quantity_number as quantity,
        coalesce(
            if(list_contains(checks.markers, lower(checks.currency)), null, checks.currency),
            checks.file_currency
        ) as currency,
        checks.order_status,
        -- why a usable record does not count: a repeat of a line in a later part, its status, a
        -- guest's id (no customer placed it), a date after --as-of, or a refund of an order that
        -- does not count
        case
            when repeated_lines.first_line is not null
                then format('duplicate of line {}', repeated_lines.first_line)
            when checks.status_meaning is not null then checks.status_meaning
            when list_contains(guest_ids.labels, lower(checks.customer_id))
                then 'a guest''s order, without a customer'
            when checks.order_day > run.as_of_option then 'after the as-of date'
            when checks.value_number < 0 and uncounted_orders.order_id is not null
                then 'refund of an order that does not count'
        end as excluded_reason,
        case
            when checks.line_problem is not null then checks.line_problem
            when checks.fields_found <> checks.fields_expected
                then format(
                    'has {} fields where the header has {}',
                    checks.fields_found,
                    checks.fields_expected
                )
            else nullif(
                concat_ws(
                    '; ',
                    case checks.customer_id_code
                        when 'missing' then 'customer_id is missing'
                        when 'too_long' then 'customer_id is longer than 100 characters'
                    end,
                    case checks.order_date_code
                        when 'missing' then 'order_date is missing'
                        when 'out_of_range'
                            then format('order_date {} is outside 1900 to 2199', checks.order_day)
                        when 'not_a_date'
                            then format(
                                'order_date ''{}'' is not a date', left(checks.order_date, 40)
                            )
                    end,
                    case checks.amount_code
                        when 'missing' then checks.amount_column || ' is missing'
                        when 'too_large'
                            then format(
                                '{} ''{}'' is too large',
                                checks.amount_column,
                                left(checks.value_text, 40)
                            )
                        when 'not_a_number'
                            then format(
                                '{} ''{}'' is not a number',
                                checks.amount_column,
                                left(
                                    if(
                                        checks.amount_column = 'quantity',
                                        checks.quantity,
                                        checks.value_text
                                    ),
                                    40
                                )
                            )
                    end,
                    case
                        when checks.currency_code is not null
                            then format(
                                'currency {} differs from the file''s {}: '
                                || 'amounts in different currencies cannot be added',
                                left(checks.currency, 40),
                                checks.file_currency
                            )
                    end
                ),
                ''
            )
        end as reject_reason,
        -- the kind of the first problem (a code of the seed reject_reasons) and its column
        case
            when checks.line_problem is not null then 'unreadable_line'
            when checks.fields_found <> checks.fields_expected then 'field_count'
            else coalesce(
                checks.customer_id_code,
                checks.order_date_code,
                checks.amount_code,
                checks.currency_code
            )
        end as reason_code,
        case
            when checks.line_problem is not null or checks.fields_found <> checks.fields_expected
                then null
            when checks.customer_id_code is not null then 'customer_id'
            when checks.order_date_code is not null then 'order_date'
            when checks.amount_code is not null then checks.amount_column
            when checks.currency_code is not null then 'currency'
        end as reason_column
    from checks
    cross join run
    cross join guest_ids
    left join uncounted_orders on checks.order_id = uncounted_orders.order_id
    left join repeated_lines on checks.line_number = repeated_lines.line_number
)

select * from final

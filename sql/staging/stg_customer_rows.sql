-- Every data record of the input, typed where it can be, with every reason it cannot be used:
-- its own fields' problems (int_customer_rows), or an id it shares with other records: a
-- record with the kept record's values is its duplicate; one with other values is superseded
-- by it (--duplicates first or last) or, when none is kept, conflicts with the others.
-- With an orders file (--orders), each customer's measures (customer_rfm) follow their columns:
-- joined to the customer file by id (customer_key), a customer without a counted order has 0
-- orders and spend and no recency, tenure or scores, and is rejected ('has no orders') only
-- when the model reads one of those; with the orders file alone, the customers are its ids.
-- The columns travel through star expressions (columns(*), * exclude), which the linter cannot
-- resolve into names: its reference rules are off here.
-- noqa: disable=RF02,RF03
{%- set needs_an_order = features | selectattr("kind", "in", ["recency", "order"]) | list %}
with
{%- if orders == "alone" %}

order_measures as (
    select * from customer_rfm
),

-- the customers are the ids of the orders: each on the line of its first order
final as (
    select  -- noqa: ST06
        order_measures.first_order_line as line_number,
        order_measures.customer_id,
        null::varchar as gender,
        null::integer as age,
        null::double as annual_income_k,
        null::integer as spending_score,
        columns(
            order_measures.* exclude (customer_key, customer_id, first_order_line, as_of_date)
        ),
        null::varchar as reject_reason,
        null::varchar as reason_code,
        null::varchar as reason_column,
        null::struct(column_name varchar, raw_value varchar, problem varchar)[] as value_issues
    from order_measures
)
{%- else %}

customer_rows as (
    select * from int_customer_rows
),

repeated_rows as (
    select * from int_repeated_customer_rows
),

repeated_ids as (
    select * from int_repeated_customer_ids
),
{%- if orders == "joined" %}

order_measures as (
    select * from customer_rfm
),

-- each customer's measures from the orders, joined by the key int_customer_rows computes (a
-- table: no view calls customer_key, whose if() DuckDB 1.x, as BI drivers bundle it, lacks)
with_orders as (
    select
        customer_rows.* exclude (customer_key),
        {%- if needs_an_order %}
        case
            when order_measures.customer_key is null then 'has no orders'
        end as order_problem,
        {%- else %}
        null::varchar as order_problem,
        {%- endif %}
        columns(
            order_measures.* exclude (customer_key, customer_id, first_order_line, as_of_date)
        )
    from customer_rows
    left join order_measures
        on
            customer_rows.customer_key = order_measures.customer_key
            and customer_rows.field_problem is null
),

-- one without a counted order has 0 orders and spend, nothing else, and cannot be placed by a
-- model that reads what only an order gives
judged as (
    select
        * replace (
            coalesce(order_count, 0) as order_count,
            coalesce(total_spend, 0) as total_spend,
            coalesce(refunded_amount, 0) as refunded_amount
        )
    from with_orders
),
{%- else %}

judged as (
    select
        *,
        null::varchar as order_problem
    from customer_rows
),
{%- endif %}

final as (
    select  -- noqa: ST06
        columns(
            judged.* exclude (
                field_problem, reason_code, reason_column, value_issues, order_problem
            )
        ),
        case
            when judged.field_problem is not null then judged.field_problem
            when judged.line_number = repeated_ids.kept_line then null
            when repeated_rows.row_hash = repeated_ids.kept_row_hash
                then format('duplicate of line {}', repeated_ids.kept_line)
            when repeated_ids.kept_line is not null
                then format('superseded by line {}', repeated_ids.kept_line)
            when repeated_ids.has_conflicting_rows
                then format(
                    'customer_id ''{}'' has conflicting rows on lines {}{}',
                    left(judged.customer_id, 40),
                    array_to_string(repeated_ids.first_lines, ', '),
                    -- case, not if(): DuckDB 1.x, as BI drivers bundle it, has no if() in views
                    case
                        when repeated_ids.records > len(repeated_ids.first_lines)
                            then format(
                                ' and {:,} more',
                                repeated_ids.records - len(repeated_ids.first_lines)
                            )
                        else ''
                    end
                )
            else judged.order_problem
        end as reject_reason,
        -- the same, as a code of the seed reject_reasons, and the column at fault
        case
            when judged.field_problem is not null then judged.reason_code
            when judged.line_number = repeated_ids.kept_line then null
            when repeated_rows.row_hash = repeated_ids.kept_row_hash then 'duplicate'
            when repeated_ids.kept_line is not null then 'superseded'
            when repeated_ids.has_conflicting_rows then 'conflicting_rows'
            when judged.order_problem is not null then 'no_orders'
        end as reason_code,
        case when judged.field_problem is not null then judged.reason_column end as reason_column,
        judged.value_issues
    from judged
    left join repeated_rows on judged.line_number = repeated_rows.line_number
    left join repeated_ids on repeated_rows.customer_key = repeated_ids.customer_key
)
{%- endif %}

select * from final

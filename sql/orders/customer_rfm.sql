-- One row per customer with a counted order: recency, frequency and spend, and the classic
-- 1-5 RFM scores. Counted orders are usable ones that were not cancelled, refunded or failed
-- and are dated on or before the as-of date (--as-of, else the latest such order's date). A
-- negative amount is a refund: it reduces the spend (never below 0) and is not an order. An
-- order is its order id (the lines of one order are one order), or each line without one; a
-- negative line of an order id is a refund of it, never a second order.
-- Ids are compared, and shown, as customer_key writes them, as the customer file's are.
-- Scores are quintiles of all these customers: 1 + floor(5 * (rank - 1) / customers), ranked
-- with rank(), so tied customers share the score of the lowest place they hold (with most
-- customers on one order, one-order customers all score 1 for frequency). Recency ranks the
-- longest absence lowest: the most recent customers score 5.
with

-- every order: scanned where it is read rather than materialised
orders as not materialized (
    select * from stg_orders
),

run as (
    select * from this_run
),

-- read three times (the as-of date, the sums, the order ids), never materialised
counted as not materialized (
    select
        customer_id,
        line_number,
        order_id,
        order_date,
        amount,
        quantity,
        is_refund,
        customer_key(customer_id) as customer_key
    from orders
    where excluded_reason is null
),

as_of as (
    select coalesce(any_value(run.as_of_option), max(counted.order_date)) as as_of_date
    from counted
    cross join run
),

-- per customer: its id (as compared: one spelling whatever the lines' order), first and last
-- order, spend, refunds and items
per_customer as (
    select
        customer_key,
        customer_key as customer_id,
        min(line_number) filter (where not is_refund) as first_order_line,
        min(order_date) filter (where not is_refund) as first_order_date,
        max(order_date) filter (where not is_refund) as last_order_date,
        count(*) filter (where not is_refund and order_id is null) as lone_lines,
        -- sums of amounts in cents or mills, without the float's noise (1677.7300000000002)
        round(coalesce(sum(amount) filter (where not is_refund), 0), 6) as purchases,
        round(coalesce(-sum(amount) filter (where is_refund), 0), 6) as refunded_amount,
        sum(quantity) filter (where not is_refund) as items
    from counted
    group by customer_key
),

-- its order ids, counted apart: a distinct count beside the other sums costs twice as much
order_ids as (
    select
        customer_key,
        count(distinct order_id) filter (where not is_refund) as order_ids
    from counted
    group by customer_key
),

measured as (
    select
        per_customer.*,
        as_of.as_of_date,
        order_ids.order_ids + per_customer.lone_lines as order_count,
        (as_of.as_of_date - per_customer.last_order_date)::integer as days_since_last_order,
        (as_of.as_of_date - per_customer.first_order_date)::integer as tenure_days,
        round(greatest(per_customer.purchases - per_customer.refunded_amount, 0), 6) as total_spend,
        round(total_spend / order_count, 6) as average_spend
    from per_customer
    inner join order_ids on per_customer.customer_key = order_ids.customer_key
    cross join as_of
    where order_ids.order_ids + per_customer.lone_lines > 0
),

scored as (
    select
        measured.*,
        (
            1 + floor(
                5 * (rank() over (order by measured.days_since_last_order desc) - 1)
                / count(*) over ()
            )
        )::integer as recency_score,
        (
            1 + floor(
                5 * (rank() over (order by measured.order_count) - 1) / count(*) over ()
            )
        )::integer as frequency_score,
        (
            1 + floor(
                5 * (rank() over (order by measured.total_spend) - 1) / count(*) over ()
            )
        )::integer as monetary_score
    from measured
),

final as (
    select  -- noqa: ST06
        customer_key,
        customer_id,
        first_order_line,
        first_order_date,
        last_order_date,
        days_since_last_order,
        order_count,
        total_spend,
        average_spend,
        refunded_amount,
        items,
        tenure_days,
        recency_score,
        frequency_score,
        monetary_score,
        recency_score::varchar
        || frequency_score::varchar
        || monetary_score::varchar as rfm_score,
        as_of_date
    from scored
)

select * from final

-- One row per usable record of the orders file: typed, with why it does not count when it does
-- not (cancelled, refunded or failed by its status, or dated after --as-of). A negative amount
-- is a refund: it reduces the customer's spend and is not an order.
with

order_rows as (
    select * from stg_order_rows
),

final as (
    select
        line_number,
        customer_id,
        order_id,
        order_date,
        amount,
        quantity,
        currency,
        order_status,
        excluded_reason,
        amount < 0 as is_refund
    from order_rows
    where reject_reason is null
)

select * from final

-- One row per customer id of the orders that no usable customer record has (an orders file
-- joined to a customer file): their orders are counted here and in the run line, never
-- silently dropped. Empty without a customer file.
with

order_measures as (
    select * from customer_rfm
),

customers as (
    select * from stg_customers
),

settings as (
    select role from raw_order_input
),

known as (
    select distinct customer_key(customer_id) as customer_key
    from customers
),

final as (
    select
        order_measures.customer_id,
        order_measures.first_order_line,
        order_measures.order_count,
        order_measures.total_spend,
        order_measures.last_order_date
    from order_measures
    cross join settings
    left join known on order_measures.customer_key = known.customer_key
    where known.customer_key is null and settings.role = 'joined'
)

select * from final

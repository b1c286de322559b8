-- The rejects of this build counted by kind: a code of the seed reject_reasons and the column
-- at fault, in words as a report names them ('spending_score is missing'), most frequent first,
-- for the customer file and for the orders file.
with

rejected_customers as (
    select * from customer_rejects
),

rejected_orders as (
    select * from order_rejects
),

reasons as (
    select * from reject_reasons
),

rejects as (
    select
        'customers' as rejects,
        reason_code,
        reason_column
    from rejected_customers
    union all
    select
        'orders' as rejects,
        reason_code,
        reason_column
    from rejected_orders
),

counted as (
    select
        rejects.rejects,
        rejects.reason_code,
        rejects.reason_column,
        concat_ws(' ', rejects.reason_column, reasons.description) as reason,
        reasons.loses_a_customer = 'true' as loses_a_customer,
        count(*) as rejected_rows
    from rejects
    inner join reasons on rejects.reason_code = reasons.reason_code
    group by all
),

final as (
    select
        rejects,
        reason_code,
        reason_column,
        reason,
        loses_a_customer,
        rejected_rows,
        row_number() over (
            partition by rejects order by rejected_rows desc, reason asc
        ) as place
    from counted
)

select * from final

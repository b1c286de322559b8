-- usable + rejected = data rows of the orders file: no order may vanish between the loader,
-- which counted each file's records as it read them, and staging.
with

raw_rows as (
    select coalesce(sum(records), 0) as data_rows from raw_order_parts
),

usable as (
    select count(*) as usable_rows from stg_orders
),

rejected as (
    select count(*) as rejected_rows from order_rejects
),

final as (
    select
        raw_rows.data_rows,
        usable.usable_rows,
        rejected.rejected_rows
    from raw_rows
    cross join usable
    cross join rejected
    where usable.usable_rows + rejected.rejected_rows <> raw_rows.data_rows
)

select * from final

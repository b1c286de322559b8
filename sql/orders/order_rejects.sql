-- One row per record of the orders file that could not be used: where it is, its text and the
-- reasons (as customer_rejects holds the customer file's).
with

-- the rejected records first, then only their lines: joined the other way round, every line
-- of the input would be hashed to find the few
rejected_rows as materialized (
    select * from stg_order_rows
    where reject_reason is not null
),

input_records as (
    select
        raw_orders.line_number,
        raw_orders.raw_line
    from raw_orders
    where raw_orders.line_number in (select rejected_rows.line_number from rejected_rows)
),

parts as (
    select * from raw_order_parts
),

final as (
    select  -- noqa: ST06
        rejected_rows.line_number,
        parts.file_name,
        rejected_rows.line_number - parts.first_line + 1 as file_line_number,
        input_records.raw_line,
        rejected_rows.reject_reason,
        rejected_rows.reason_code,
        rejected_rows.reason_column
    from rejected_rows
    inner join input_records on rejected_rows.line_number = input_records.line_number
    inner join parts
        on rejected_rows.line_number between parts.first_line and parts.last_line
)

select * from final

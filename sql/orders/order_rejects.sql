-- One row per record of the orders file that could not be used: where it is, its text and the
-- reasons (as customer_rejects holds the customer file's).
with

order_rows as (
    select * from stg_order_rows
),

input_records as (
    select * from raw_orders
),

parts as (
    select * from raw_order_parts
),

final as (
    select  -- noqa: ST06
        order_rows.line_number,
        parts.file_name,
        order_rows.line_number - parts.first_line + 1 as file_line_number,
        input_records.raw_line,
        order_rows.reject_reason,
        order_rows.reason_code,
        order_rows.reason_column
    from order_rows
    inner join input_records on order_rows.line_number = input_records.line_number
    inner join parts
        on order_rows.line_number between parts.first_line and parts.last_line
    where order_rows.reject_reason is not null
)

select * from final

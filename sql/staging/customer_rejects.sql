-- One row per input line that could not be used: its number, its text and the reasons.
with

customer_rows as (
    select * from stg_customer_rows
),

raw_lines as (
    select * from raw_customers
),

final as (
    select
        customer_rows.line_number,
        raw_lines.raw_line,
        customer_rows.reject_reason
    from customer_rows
    inner join raw_lines on customer_rows.line_number = raw_lines.line_number
    where customer_rows.reject_reason is not null
)

select * from final

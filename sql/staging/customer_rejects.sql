-- One row per input record that could not be used: where it is, its text and the reasons (in
-- words, and the kind of the first as a code of the seed reject_reasons with its column).
with

customer_rows as (
    select * from stg_customer_rows
),

input_records as (
    select * from raw_customers
),

-- the input's files: one, or a folder's part files, each holding a range of line numbers
parts as (
    select * from raw_parts
),

-- where the record is, then what it is
final as (
    select  -- noqa: ST06
        customer_rows.line_number,
        parts.file_name,
        customer_rows.line_number - parts.first_line + 1 as file_line_number,
        input_records.raw_line,
        customer_rows.reject_reason,
        customer_rows.reason_code,
        customer_rows.reason_column
    from customer_rows
    inner join input_records on customer_rows.line_number = input_records.line_number
    inner join parts
        on customer_rows.line_number between parts.first_line and parts.last_line
    where customer_rows.reject_reason is not null
)

select * from final

-- One row per input record that could not be used: where it is, its text and the reasons (in
-- words, and the kind of the first as a code of the seed reject_reasons with its column).
with

-- the rejected records first, then only their lines: joined the other way round, every line
-- of the input would be hashed to find the few
rejected_rows as materialized (
    select * from stg_customer_rows
    where reject_reason is not null
),

input_records as (
    select
        raw_customers.line_number,
        raw_customers.raw_line
    from raw_customers
    where raw_customers.line_number in (select rejected_rows.line_number from rejected_rows)
),

-- the input's files: one, or a folder's part files, each holding a range of line numbers
parts as (
    select * from raw_parts
),

-- where the record is, then what it is
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

-- One row per input line that could not be used, with the reason in words.
with

customer_rows as (
    select * from stg_customer_rows
),

final as (
    select
        line_number,
        raw_line,
        reject_reason
    from customer_rows
    where reject_reason is not null
)

select * from final

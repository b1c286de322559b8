-- One row per usable customer: typed, trimmed, gender categorised, and every column the
-- model does not use under its own name.
with

customer_rows as (
    select * from stg_customer_rows
),

final as (
    select
        customer_id,
        gender,
        age,
        annual_income_k,
        spending_score,
        line_number,
        columns(
            * exclude (
                customer_id, gender, age, annual_income_k, spending_score, line_number,
                reject_reason, reason_code, reason_column, value_issues
            )
        )
    from customer_rows
    where reject_reason is null
)

select * from final

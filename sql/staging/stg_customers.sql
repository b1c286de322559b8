-- One row per valid customer: typed, trimmed, gender categorised.
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
        spending_score
    from customer_rows
    where reject_reason is null
)

select * from final

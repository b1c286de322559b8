-- What K-Means reads: one row per customer, the features in their original units.
with

customers as (
    select * from stg_customers
),

final as (
    select
        customer_id,
        annual_income_k,
        spending_score
    from customers
)

select * from final

-- What K-Means may read: one row per customer, the candidate features in their original
-- units (income and spending always; age when the build is asked for it).
with

customers as (
    select * from stg_customers
),

final as (
    select
        customer_id,
        annual_income_k,
        spending_score,
        age
    from customers
)

select * from final

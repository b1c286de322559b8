-- One row per value a kept customer lacks or has wrong in a column the model does not use:
-- the customer stays and the value is null in stg_customers.
with

customer_rows as (
    select * from stg_customer_rows
),

issues as (
    select
        line_number,
        customer_id,
        unnest(value_issues) as issue
    from customer_rows
    where reject_reason is null and value_issues is not null
),

final as (
    select
        issues.line_number,
        issues.customer_id,
        issues.issue.column_name,
        issues.issue.raw_value,
        issues.issue.problem
    from issues
)

select * from final

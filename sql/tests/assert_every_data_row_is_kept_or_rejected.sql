-- clean + rejected = data rows: no input line may vanish between the raw table and staging.
with

raw_rows as (
    select count(*) as data_rows from raw_customers
),

clean as (
    select count(*) as clean_rows from stg_customers
),

rejected as (
    select count(*) as rejected_rows from customer_rejects
),

final as (
    select
        raw_rows.data_rows,
        clean.clean_rows,
        rejected.rejected_rows
    from raw_rows
    cross join clean
    cross join rejected
    where clean.clean_rows + rejected.rejected_rows <> raw_rows.data_rows
)

select * from final

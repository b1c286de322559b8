-- clean + rejected = data rows: no input record may vanish between the loader, which counted
-- each file's records as it read them, and staging. With an orders file alone, the customers
-- are the ids of its orders (customer_rfm), and there is no customer file to reject a row.
with
{%- if orders == "alone" %}

raw_rows as (
    select count(*) as data_rows from customer_rfm
),
{%- else %}

raw_rows as (
    select sum(records) as data_rows from raw_parts
),
{%- endif %}

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

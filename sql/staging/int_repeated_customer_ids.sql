-- Ids on more than one record whose own fields are fine: an id repeated with the same values
-- keeps its first line; one repeated with different values (in any column) cannot be trusted
-- on any of its lines. A small table, so the records are scanned for it once.
with

customer_rows as (
    select * from int_customer_rows
),

usable_rows as (
    select * exclude (field_problem, value_issues)
    from customer_rows
    where field_problem is null
),

repeated_ids as (
    select customer_id
    from usable_rows
    group by customer_id
    having count(*) > 1
),

final as (
    select
        usable_rows.customer_id,
        min(usable_rows.line_number) as first_line,
        list_sort(list(usable_rows.line_number)) as line_numbers,
        count(distinct hash(*columns(usable_rows.* exclude (line_number)))) > 1  -- noqa: RF02
            as has_conflicting_rows
    from usable_rows
    semi join repeated_ids on usable_rows.customer_id = repeated_ids.customer_id
    group by usable_rows.customer_id
)

select * from final

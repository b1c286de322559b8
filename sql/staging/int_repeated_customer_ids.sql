-- Ids on more than one record whose own fields are fine, and which of those records is kept
-- (--duplicates, this_run.duplicates). Records with the same values are one customer: the
-- first is kept. An id whose records differ keeps its first record under 'first', its last
-- under 'last', and none under 'reject': then no record of it can be trusted. Each id keeps a
-- count and its first lines, never a list of all of them: a placeholder id on a million
-- records costs what one record does.
with

repeated_rows as (
    select * from int_repeated_customer_rows
),

settings as (
    select duplicates from this_run
),

repeated_ids as (
    select
        customer_key,
        min(line_number) as first_line,
        max(line_number) as last_line,
        count(*) as records,
        min(line_number, 5) as first_lines,
        count(distinct row_hash) > 1 as has_conflicting_rows,
        arg_min(row_hash, line_number) as first_row_hash,
        arg_max(row_hash, line_number) as last_row_hash
    from repeated_rows
    group by customer_key
),

final as (
    select
        repeated_ids.customer_key,
        repeated_ids.first_line,
        repeated_ids.records,
        repeated_ids.first_lines,
        repeated_ids.has_conflicting_rows,
        case
            when not repeated_ids.has_conflicting_rows or settings.duplicates = 'first'
                then repeated_ids.first_line
            when settings.duplicates = 'last' then repeated_ids.last_line
        end as kept_line,
        case
            when not repeated_ids.has_conflicting_rows or settings.duplicates = 'first'
                then repeated_ids.first_row_hash
            when settings.duplicates = 'last' then repeated_ids.last_row_hash
        end as kept_row_hash
    from repeated_ids
    cross join settings
)

select * from final

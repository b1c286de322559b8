-- Ids on more than one record whose own fields are fine, and which of those records is kept
-- (--duplicates, this_run.duplicates). Records with the same values (in every column but how
-- the id is written) are one customer: the first is kept. An id whose records differ keeps
-- its first record under 'first', its last under 'last', and none under 'reject': then no
-- record of it can be trusted. Ids are compared by customer_key (NFC, full-width as ASCII),
-- so two spellings of one id that look the same are one customer. A small table, so the
-- records are scanned for it once; each id keeps a count and its first lines, never a list of
-- all of them: a placeholder id on a million records costs what one record does.
-- Ids are grouped by their hash first: a number per customer is a far smaller group key than
-- the text, and only the few records whose hash repeats are grouped by the id itself. The
-- records are read twice (hashes, then candidates) and never materialised: two scans of a
-- few columns cost far less than holding every column of every record.
with

customer_rows as not materialized (
    select * from int_customer_rows
),

settings as (
    select duplicates from this_run
),

usable_rows as not materialized (
    select
        * exclude (field_problem, value_issues),
        customer_key(customer_id) as customer_key
    from customer_rows
    where field_problem is null
),

repeated_hashes as (
    select hash(customer_key) as key_hash
    from usable_rows
    group by key_hash
    having count(*) > 1
),

-- a record's values, as stg_customer_rows hashes them to tell a duplicate from a superseded row
candidate_rows as (
    select
        usable_rows.line_number,
        usable_rows.customer_key,
        hash(
            *columns(usable_rows.* exclude (line_number, customer_id, customer_key))  -- noqa: RF02
        ) as row_hash
    from usable_rows
    semi join repeated_hashes on hash(usable_rows.customer_key) = repeated_hashes.key_hash
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
    from candidate_rows
    group by customer_key
    having count(*) > 1
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

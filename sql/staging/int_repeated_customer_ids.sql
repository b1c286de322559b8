-- Ids on more than one record whose own fields are fine: an id repeated with the same values
-- keeps its first line; one repeated with different values (in any column) cannot be trusted
-- on any of its lines. Ids are compared by customer_key (NFC, full-width as ASCII), so two
-- spellings of one id that look the same are one customer. A small table, so the records are
-- scanned for it once; each id keeps a count and its first lines, never a list of all of them:
-- a placeholder id on a million records costs what one record does.
-- Ids are grouped by their hash first: a number per customer is a far smaller group key than
-- the text, and only the few records whose hash repeats are grouped by the id itself. The
-- records are read twice (hashes, then candidates) and never materialised: two scans of a
-- few columns cost far less than holding every column of every record.
with

customer_rows as not materialized (
    select * from int_customer_rows
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

candidate_rows as (
    select usable_rows.*
    from usable_rows
    semi join repeated_hashes on hash(usable_rows.customer_key) = repeated_hashes.key_hash
),

final as (
    select
        customer_key,
        min(line_number) as first_line,
        count(*) as records,
        min(line_number, 5) as first_lines,
        -- the same values but for how the id is written: one customer
        count(distinct hash(*columns(* exclude (line_number, customer_id)))) > 1  -- noqa: RF02
            as has_conflicting_rows
    from candidate_rows
    group by customer_key
    having count(*) > 1
)

select * from final

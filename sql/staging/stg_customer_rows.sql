-- Every data record of the input, typed where it can be, with every reason it cannot be used:
-- its own fields' problems (int_customer_rows), or an id it shares with other records: a
-- record with the kept record's values is its duplicate; one with other values is superseded
-- by it (--duplicates first or last) or, when none is kept, conflicts with the others.
-- The columns travel through star expressions (columns(*), * exclude), which the linter cannot
-- resolve into names: its reference rules are off here.
-- noqa: disable=RF02,RF03
with

customer_rows as (
    select * from int_customer_rows
),

repeated_ids as (
    select * from int_repeated_customer_ids
),

-- the values of a record whose id repeats, hashed as int_repeated_customer_ids hashes them
matched as (
    select
        customer_rows.*,
        repeated_ids as repeated_id,
        case
            when repeated_ids.records > 1
                then hash(
                    *columns(
                        customer_rows.* exclude (
                            line_number, customer_id, field_problem, value_issues
                        )
                    )
                )
        end as row_hash
    from customer_rows
    left join repeated_ids
        on
            customer_key(customer_rows.customer_id) = repeated_ids.customer_key
            and customer_rows.field_problem is null
),

final as (
    select  -- noqa: ST06
        columns(matched.* exclude (field_problem, value_issues, repeated_id, row_hash)),
        case
            when matched.field_problem is not null then matched.field_problem
            when matched.line_number = matched.repeated_id.kept_line then null
            when matched.row_hash = matched.repeated_id.kept_row_hash
                then format('duplicate of line {}', matched.repeated_id.kept_line)
            when matched.repeated_id.kept_line is not null
                then format('superseded by line {}', matched.repeated_id.kept_line)
            when matched.repeated_id.has_conflicting_rows
                then format(
                    'customer_id ''{}'' has conflicting rows on lines {}{}',
                    left(matched.customer_id, 40),
                    array_to_string(matched.repeated_id.first_lines, ', '),
                    if(
                        matched.repeated_id.records > len(matched.repeated_id.first_lines),
                        format(
                            ' and {:,} more',
                            matched.repeated_id.records - len(matched.repeated_id.first_lines)
                        ),
                        ''
                    )
                )
        end as reject_reason,
        matched.value_issues
    from matched
)

select * from final

-- How an export writes its values, from the seeds, for the staging of customers and orders:
-- what reads as missing (compared in lower case after trimming) and what pads a value copied
-- from a web page or a spreadsheet. One row.
with

markers as (
    select
        list(marker order by marker) as missing_markers,
        max(length(marker)) as longest_missing_marker
    from missing_value_markers
),

padding as (
    select
        string_agg(chr(code_point::integer), '' order by code_point::integer) as padding_characters,
        list(code_point::integer order by code_point::integer) as padding_code_points
    from padding_characters
),

final as (
    select
        markers.missing_markers,
        markers.longest_missing_marker,
        padding.padding_characters,
        padding.padding_code_points
    from markers
    cross join padding
)

select * from final

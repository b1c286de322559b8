-- trim_padding(value, characters, code_points): the value without the padding characters at
-- its ends (int_value_conventions: `characters` as one text, `code_points` as a list). Its
-- first and last characters are looked at first: nearly no value has any.
create or replace macro trim_padding(value, characters, code_points) as (
    case
        when
            list_contains(code_points, ascii(value))
            or list_contains(code_points, ascii(right(value, 1)))
            then trim(value, characters)
        else value
    end
)

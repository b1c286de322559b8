-- number_from_text(value, has_decimal_comma): a number as people write it, as staging reads
-- it: a sign, a currency sign, thousands separators (a space, as French writes them, or an
-- apostrophe, as Swiss does, too), decimals ('$1,234.50', '-800'); where the file writes decimal
-- commas (has_decimal_comma), dots split the thousands ('70.000' is 70000, '1.250,75' is
-- 1250.75); a decimal comma in a file that otherwise writes points ('89,5') is read too. Null for
-- anything else: '1e2' and '0x10', which try_cast alone would accept. The patterns are
-- number_formats.NUMBER_PATTERNS (`numbers`). An accountant's negative in brackets ('(97.18)',
-- '($1,250.00)') is the number negated.
{%- macro read(value) -%}
    case
        when regexp_full_match({{ value }}, '{{ numbers.whole }}') then {{ value }}::double
        when not has_decimal_comma and regexp_full_match({{ value }}, '{{ numbers.plain_decimals }}')
            then {{ value }}::double
        when has_decimal_comma and regexp_full_match({{ value }}, '{{ numbers.decimal_comma }}')
            then try_cast(
                replace(regexp_replace({{ value }}, '[{{ numbers.comma_drops }}]', '', 'g'), ',', '.')
                as double
            )
        when regexp_full_match({{ value }}, '{{ numbers.decimal_point }}')
            then try_cast(
                regexp_replace({{ value }}, '[{{ numbers.point_drops }}]', '', 'g') as double
            )
        when regexp_full_match({{ value }}, '{{ numbers.stray_decimal_comma }}')
            then try_cast(
                replace(regexp_replace({{ value }}, '[{{ numbers.currency_signs }}.]', '', 'g'), ',', '.')
                as double
            )
    end
{%- endmacro %}
create or replace macro number_from_text(value, has_decimal_comma) as (
    case
        when starts_with(value, '(') and ends_with(value, ')')
            then -(
                {{ read("value[2:-2]") | indent(8) }}
            )
        else
            {{ read("value") | indent(8) }}
    end
)

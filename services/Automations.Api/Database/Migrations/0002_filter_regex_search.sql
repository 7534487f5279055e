-- Alias and tag regexes became searches, as W&B's $regex is (`prod` finds `production`; `^prod$` is the whole alias).
-- Before, Rules matched each pattern against the whole value by compiling ^(?:pattern)$. Each stored pattern is
-- rewritten to exactly that text, so Rules now compiles the very regex it compiled before and every automation saved
-- earlier matches exactly what it matched. Null and '' mean "no filter" (every value passes) and stay as they are.
-- Wrapping an already wrapped pattern would not change what it matches either (^(?:^(?:p)$)$ finds what ^(?:p)$ finds),
-- and a Rules of the previous version reading the rewritten patterns still matches the same values.
update control.automations
set alias_regex = case when coalesce(alias_regex, '') = '' then alias_regex else '^(?:' || alias_regex || ')$' end,
    tag_regex   = case when coalesce(tag_regex, '') = '' then tag_regex else '^(?:' || tag_regex || ')$' end
where coalesce(alias_regex, '') <> '' or coalesce(tag_regex, '') <> '';

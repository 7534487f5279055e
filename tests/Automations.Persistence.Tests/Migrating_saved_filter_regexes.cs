using System.Text.RegularExpressions;
using Automations.Core.Filters;
using Automations.Persistence.Control;
using Dapper;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// Alias and tag regexes became searches; control migration 0002 rewrites the patterns saved before, on a database
/// that holds automations, so each keeps matching exactly the values it matched.
/// </summary>
public class Migrating_saved_filter_regexes() : OldLayoutDatabase("old_regex")
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(100);

    // What the Api saved before (it stores the pattern as given, null for blank) and a few a row could hold otherwise.
    private static readonly string?[] Patterns =
        ["production", "prod.*", "^prod", "prod", "gold|silver", "a|b$", "v[0-9]+", "(?i)PROD", "x$", " ", "", null];

    private static readonly string[] Values =
        ["production", "prod", "preprod", "pre-production", "PROD", "staging", "gold", "goldfish", "silver", "a", "b", "xa", "xb",
         "ab", "v12", "v12-rc", "x", "x\n", " ", "  ", ""];

    /// <summary>How Rules matched before: no filter when null or empty, else the whole value (^(?:pattern)$).</summary>
    private static bool OldMatch(string? pattern, string value) =>
        string.IsNullOrEmpty(pattern) || new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant, Timeout).IsMatch(value);

    /// <summary>How Rules matches now (CompiledAutomation: FilterRegex.Compile and IsMatch).</summary>
    private static bool NewMatch(string? pattern, string value) => FilterRegex.Compile(pattern, Timeout) is not { } r || r.IsMatch(value);

    [Fact]
    public async Task Should_keep_matching_what_each_saved_filter_matched()
    {
        // The control schema as deployed before: its first script only, under the same journal.
        await MigrateUpToAsync("control", s => s.Name.StartsWith("_common.", StringComparison.Ordinal) || s.Name == "0001_base.sql");
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        var entityId = Guid.NewGuid();
        await db.ExecuteAsync("insert into control.entities (id, name) values (@entityId, 'acme')", new { entityId });
        // A database with data: many automations in other projects, each with its own alias pattern.
        await db.ExecuteAsync("""
            insert into control.automations (id, entity_id, project, name, event_type, collection, alias_regex, action_type, payload)
            select gen_random_uuid(), @entityId, 'p' || (g % 50), 'bulk ' || g, 'ADD_ARTIFACT_ALIAS', null, 'model-' || g, 'webhook', '{}'
            from generate_series(1, 5000) g
            """, new { entityId });
        // The automations under test: each pattern as alias regex and as tag regex, written the way the Api wrote them.
        for (var i = 0; i < Patterns.Length; i++)
            await db.ExecuteAsync("""
                insert into control.automations (id, entity_id, project, name, event_type, collection, alias_regex, tag_regex, action_type, payload)
                values (gen_random_uuid(), @entityId, 'mnist', @name, 'ADD_ARTIFACT_ALIAS', null, @pattern, @pattern, 'webhook', '{}')
                """, new { entityId, name = $"filter {i}", pattern = Patterns[i] });

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["control"]);

        var rows = (await AutomationQueries.EnabledForProjectAsync(db, null, "acme", "mnist")).ToDictionary(r => r.Name);
        Assert.Equal(Patterns.Length, rows.Count);
        for (var i = 0; i < Patterns.Length; i++)
        {
            var row = rows[$"filter {i}"];
            foreach (var value in Values)
            {
                Assert.True(OldMatch(Patterns[i], value) == NewMatch(row.AliasRegex, value), $"alias regex {Show(Patterns[i])} (stored as {Show(row.AliasRegex)}) on {Show(value)}");
                Assert.True(OldMatch(Patterns[i], value) == NewMatch(row.TagRegex, value), $"tag regex {Show(Patterns[i])} (stored as {Show(row.TagRegex)}) on {Show(value)}");
            }
        }
        // No filter stays no filter, as it was stored.
        Assert.Null(rows[$"filter {Array.IndexOf(Patterns, null)}"].AliasRegex);
        Assert.Equal("", rows[$"filter {Array.IndexOf(Patterns, "")}"].AliasRegex);
        Assert.Equal(FilterRegex.WholeValue("prod.*"), rows[$"filter {Array.IndexOf(Patterns, "prod.*")}"].AliasRegex);
        // Every other row was rewritten too, and only once.
        Assert.Equal(5000, await db.ExecuteScalarAsync<int>(
            "select count(*) from control.automations where name like 'bulk %' and alias_regex = '^(?:model-' || substr(name, 6) || ')$' and tag_regex is null"));

        // An automation saved from now on is a search: ^prod fires for production.
        await db.ExecuteAsync("""
            insert into control.automations (id, entity_id, project, name, event_type, collection, alias_regex, action_type, payload)
            values (gen_random_uuid(), @entityId, 'mnist', 'new', 'ADD_ARTIFACT_ALIAS', null, '^prod', 'webhook', '{}')
            """, new { entityId });
        var saved = (await AutomationQueries.EnabledForProjectAsync(db, null, "acme", "mnist")).Single(r => r.Name == "new");
        Assert.True(NewMatch(saved.AliasRegex, "production"));
        Assert.False(NewMatch(saved.AliasRegex, "preprod"));

        // Migrating again runs nothing: the journal knows the script.
        var before = await db.QuerySingleAsync<string>("select string_agg(alias_regex, ',' order by name) from control.automations where project = 'mnist'");
        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["control"]);
        Assert.Equal(before, await db.QuerySingleAsync<string>("select string_agg(alias_regex, ',' order by name) from control.automations where project = 'mnist'"));
    }

    private static string Show(string? s) => s is null ? "null" : "\"" + s.Replace("\n", "\\n", StringComparison.Ordinal) + "\"";
}

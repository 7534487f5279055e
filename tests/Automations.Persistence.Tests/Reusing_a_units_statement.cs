using Automations.Persistence.Writes;
using Automations.Testing;
using Dapper;

namespace Automations.Persistence.Tests;

/// <summary>
/// A unit's statement is worked out once per shape (its steps' SQL, its outbox rows, the grace) and reused: units of one
/// shape differ only in their parameters' values, and each still writes its own. The kept shapes are bounded.
/// </summary>
public class Reusing_a_units_statement(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    [Fact]
    public async Task Should_compose_a_shape_once_and_bind_each_units_own_values()
    {
        await using var host = await UnitHost.StartAsync(env);
        var statements = host.Writes.Statements;
        const string sql = "insert into ingestion.test_sources (id, note) values (@id, @note) on conflict do nothing returning id";
        var (a, b, c) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());

        async Task<int> CommitAsync(object args, Guid id)
        {
            var w = host.Writes.Begin();
            var source = w.Execute(sql, args);
            w.Publish(UnitHost.Event(id), when: source, messageId: id);
            return (await w.CommitAsync()).Count(source);
        }

        // The host's consumer writes units of its own (the events' effects) meanwhile: count only this statement's shapes.
        int Kept() => statements.Kept.Count(s => s.Sql.Contains("ingestion.test_sources", StringComparison.Ordinal));
        Assert.Equal(1, await CommitAsync(new { id = a, note = "first" }, a));
        Assert.Equal(1, Kept());
        // The same shape: the kept statement, with the second unit's values.
        Assert.Equal(1, await CommitAsync(new { id = b, note = "second" }, b));
        Assert.Equal(1, Kept());
        // The same SQL with arguments whose properties come in another order: their own binding, their own values.
        Assert.Equal(1, await CommitAsync(new { note = "third", id = c }, c));
        Assert.Equal(2, Kept());
        // Kept in positional form: Npgsql sends the text as it is, without parsing it for names.
        Assert.All(statements.Kept, s => Assert.Matches(@"\$1\b", s.Sql));
        // A row that exists already: the unit's result says so and it publishes nothing, as before.
        Assert.Equal(0, await CommitAsync(new { id = a, note = "again" }, a));

        await using var connection = await env.DataSource.OpenConnectionAsync();
        var notes = (await connection.QueryAsync<(Guid Id, string Note)>("select id, note from ingestion.test_sources where id = any(@ids)",
            new { ids = new[] { a, b, c } })).ToDictionary(r => r.Id, r => r.Note);
        Assert.Equal("first", notes[a]);
        Assert.Equal("second", notes[b]);
        Assert.Equal("third", notes[c]);
        await host.AssertExactlyOnceAsync([a, b, c]);
    }

    [Fact]
    public void Should_send_parameters_by_position_only_when_they_match_the_statement_one_to_one()
    {
        static List<Npgsql.NpgsqlParameter> Added(params string[] names) => [.. names.Select(n => new Npgsql.NpgsqlParameter(n, 1))];

        var statement = StatementShapes.Statement.Of("select @b, @a::int, @b", Added("a", "b"));
        Assert.Equal("select $1, $2::int, $1", statement.Sql);
        Assert.Equal([1, 0], Assert.IsType<int[]>(statement.Order));
        // An added parameter the statement never uses, or one it uses that was never added: sent by name instead.
        Assert.Equal(new StatementShapes.Statement("select @a", null), StatementShapes.Statement.Of("select @a", Added("a", "unused")));
        Assert.Equal(new StatementShapes.Statement("select @a, @missing", null), StatementShapes.Statement.Of("select @a, @missing", Added("a", "b")));
    }

    [Fact]
    public void Should_keep_no_more_shapes_than_its_bound_and_still_answer_past_it()
    {
        var units = new StatementShapes.Units();
        static StatementShapes.Statement Sql(string sql) => new(sql, null);
        for (var i = 0; i < StatementShapes.MaxUnits; i++) units.Get($"k{i}", i, n => Sql($"select {n}"));
        Assert.Equal(StatementShapes.MaxUnits, units.Count);

        var composed = 0;
        Assert.Equal("select past", units.Get("past", 0, _ => { composed++; return Sql("select past"); }).Sql);
        Assert.Equal("select past", units.Get("past", 0, _ => { composed++; return Sql("select past"); }).Sql);
        Assert.Equal(2, composed);
        Assert.Equal(StatementShapes.MaxUnits, units.Count);
        // A shape that was kept is not composed again.
        Assert.Equal("select 7", units.Get("k7", 0, _ => throw new InvalidOperationException("composed again")).Sql);
    }

    [Fact]
    public void Should_not_keep_a_step_whose_arguments_lack_a_parameter()
    {
        for (var i = 0; i < 2; i++)
            Assert.Throws<ArgumentException>(() => StatementShapes.Step("select @id, @missing_" + nameof(Reusing_a_units_statement), "s_", new { id = 1 }.GetType()));
        var kept = StatementShapes.Step("select @id, @id::text", "s_", new { id = 1 }.GetType());
        Assert.Same(kept, StatementShapes.Step("select @id, @id::text", "s_", new { id = 2 }.GetType()));
        Assert.Equal("select @s_id, @s_id::text", kept.Sql);
        Assert.Single(kept.Parameters);
    }
}

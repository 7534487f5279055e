using Automations.Persistence.GroupCommit;
using Automations.Persistence.Writes;

namespace Automations.Persistence.Tests;

using Writes = Automations.Persistence.Writes.Writes;

/// <summary>
/// In a unit with an inbox every statement must read the inbox (or a step that does), or it would run again for a
/// message seen before: the unit refuses to commit one that does not. Checked before anything reaches the database.
/// </summary>
public class Guarding_steps_with_the_inbox
{
    private static WriteUnit Begin() => new Writes("rules", null!, null!, [], new GroupCommitOptions(), null!).Begin();

    [Fact]
    public async Task Should_refuse_a_statement_that_does_not_read_the_inbox()
    {
        var w = Begin();
        var inbox = w.Inbox("consumer", Guid.NewGuid());
        w.Execute($"insert into rules.runs (id) select @id where exists (select from {inbox}) returning 1", new { id = 1 });
        var unguarded = w.Execute("update rules.runs set status = 'x' where id = @id returning 1", new { id = 2 });
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => w.CommitAsync());
        Assert.Contains(unguarded.ToString(), error.Message);
    }

    [Fact]
    public async Task Should_refuse_a_statement_that_names_the_inbox_only_in_a_literal_or_a_qualified_name()
    {
        var w = Begin();
        w.Inbox("consumer", Guid.NewGuid());
        w.Execute("select 'inbox', x.inbox from rules.inbox x");
        await Assert.ThrowsAsync<InvalidOperationException>(() => w.CommitAsync());
    }

    [Fact]
    public void Should_accept_a_statement_that_reads_a_step_that_reads_the_inbox()
    {
        var w = Begin();
        var inbox = w.Inbox("consumer", Guid.NewGuid());
        var run = w.Execute($"insert into rules.runs (id) select @id where exists (select from {inbox}) returning id", new { id = 1 });
        var then = w.Execute($"update rules.runs set status = 'x' from {run} where runs.id = {run}.id returning 1");
        w.CheckGuard();
        Assert.NotEqual(run.ToString(), then.ToString());
        Assert.Equal("inbox", inbox.ToString());
    }

    [Fact]
    public void Should_refuse_a_parameter_its_arguments_do_not_have()
    {
        var w = Begin();
        var error = Assert.Throws<ArgumentException>(() => w.Execute("select @id, @missing", new { id = 1 }));
        Assert.Contains("@missing", error.Message);
    }

    [Fact]
    public void Should_put_the_inbox_first()
    {
        var w = Begin();
        w.Execute("select 1");
        Assert.Throws<InvalidOperationException>(() => w.Inbox("consumer", Guid.NewGuid()));
    }
}

using Automations.Contracts;
using Automations.Testing;
using Dapper;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

/// <summary>Rules running with partitions of a second: runs land in their event's partition, whenever they are handled.</summary>
public class Partitioning_runs_by_event_time(Partitioning_runs_by_event_time.Fixture fx) : IClassFixture<Partitioning_runs_by_event_time.Fixture>
{
    public sealed class Fixture : RulesFixture
    {
        public override Dictionary<string, string?> ServiceConfiguration()
        {
            var config = base.ServiceConfiguration();
            config["Retention:Interval"] = "00:00:01";
            config["Retention:Ahead"] = "30";
            config["Retention:CheckEvery"] = "00:00:01";
            return config;
        }
    }

    [Fact]
    public async Task Should_create_one_run_when_the_event_comes_again_after_its_partition_is_past()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        await using var c = await fx.DataSource.OpenConnectionAsync();
        // The service's first maintenance pass creates every partition ahead in one transaction; before it, runs land in
        // the default partition.
        await Eventually.TrueAsync(async () => await c.ExecuteScalarAsync<bool>(
                "select exists (select from pg_inherits where inhparent = 'rules.runs'::regclass and inhrelid::regclass::text like 'rules.runs\\_p2%')"),
            "the first maintenance pass created the partitions");

        var e = Event(project);
        await fx.HandleAsync(e);
        var partition = await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from rules.runs where event_id = @EventId", new { e.EventId });
        Assert.StartsWith("rules.runs_p", partition);
        // Now in a later partition than the event's: the copy, under another message id (past the inbox), still meets its run.
        await Eventually.TrueAsync(async () => await c.ExecuteScalarAsync<bool>("select now() > @ReceivedAt + interval '1.1 seconds'", new { e.ReceivedAt }),
            "a later partition than the event's is the current one");
        await fx.HandleAsync(e);

        var run = Assert.Single(await fx.RunsOfEventAsync(e.EventId));
        Assert.Equal(partition, await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from rules.runs where id = @Id", new { run.Id }));
        // And the run's outcome finds it by id across the partitions.
        await fx.PublishAsync(new WebhookDeliveryCompleted(run.CommandId, run.Id, Guid.CreateVersion7(), 200, 1, DateTimeOffset.UtcNow));
        await Eventually.TrueAsync(async () => (await fx.RunAsync(run.Id)).Status == "Finished", "the outcome moved the run");
    }
}

using Automations.Contracts;
using Automations.Testing;
using Dapper;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

/// <summary>
/// Commands of one commit, and those Rules commits while its last publish of a command waits for the broker's confirm,
/// travel together as one SendWebhooks message; a command committed alone when none is in flight goes at once, alone.
/// Each command is published exactly once either way, and its outbox row is deleted once confirmed.
/// </summary>
public class Sending_commands_together(StoppedRulesFixture fx) : IClassFixture<StoppedRulesFixture>
{
    private async Task<ServiceHost> StartAsync(Dictionary<string, string?>? overrides = null)
    {
        var config = fx.ServiceConfiguration();
        if (overrides is not null)
            foreach (var (k, v) in overrides) config[k] = v;
        return await ServiceHost.StartAsync(Program.Build, config);
    }

    private async Task<ArtifactEventReceived> FireAsync(ServiceHost rules, int automations)
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        for (var i = 0; i < automations; i++) await fx.CreateWebhookAutomationAsync(project, new AutomationSpec($"a{i}"));
        var e = Event(project);
        await fx.PublishAsync(e, Guid.CreateVersion7(), via: rules);
        return e;
    }

    private async Task<long> OutboxRowsAsync()
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<long>("select count(*) from rules.outbox where message_type = 'SendWebhook'");
    }

    [Fact]
    public async Task Should_send_what_one_commit_made_in_one_message_each_command_once()
    {
        // No idle linger: what travels together here is what one commit made.
        await using var rules = await StartAsync(new() { ["Outbox:IdleLinger"] = "00:00:00" });
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        // One event, twenty automations: twenty commands in one commit, handed to the direct path at once.
        var e = await FireAsync(rules, 20);
        var commands = await probe.WaitForCommandsAsync(c => c.EventId == e.EventId, 20);
        await Eventually.TrueAsync(async () => await OutboxRowsAsync() == 0, "the published rows are deleted");
        await probe.CatchUpAsync();

        commands = [.. probe.Commands().Where(c => c.Command.EventId == e.EventId)];
        Assert.Equal(20, commands.Select(c => c.Command.CommandId).Distinct().Count());
        Assert.Equal(20, commands.Count);
        var runs = await fx.RunsOfEventAsync(e.EventId);
        Assert.Equal(runs.Select(r => r.CommandId).Order(), commands.Select(c => c.Command.CommandId).Order());
        Assert.Single(probe.Received, d => PublishedCommands.Of(d).Any(c => c.Command.EventId == e.EventId));
        Assert.All(commands, c => Assert.True(c.InBatch));
        // Each item carries the trace its command was made in (the event's), for the sender to continue.
        Assert.All(commands, c => Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", c.Traceparent));
    }

    [Fact]
    public async Task Should_send_what_is_committed_while_a_publish_waits_in_fewer_messages_each_command_once()
    {
        // No idle linger: what travels together here is what one confirm's wait gathers.
        await using var rules = await StartAsync(new() { ["Outbox:IdleLinger"] = "00:00:00" });
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        // Forty events with one automation each, at once: forty commits, each command its own.
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        var events = Enumerable.Range(0, 40).Select(_ => Event(project)).ToList();
        await Task.WhenAll(events.Select(e => fx.PublishAsync(e, Guid.CreateVersion7(), via: rules)));
        var ids = events.Select(e => e.EventId).ToHashSet();
        await probe.WaitForCommandsAsync(c => ids.Contains(c.EventId), 40);
        await Eventually.TrueAsync(async () => await OutboxRowsAsync() == 0, "the published rows are deleted");
        await probe.CatchUpAsync();

        var commands = probe.Commands().Where(c => ids.Contains(c.Command.EventId)).ToList();
        Assert.Equal(40, commands.Count);
        Assert.Equal(40, commands.Select(c => c.Command.CommandId).Distinct().Count());
        var messages = probe.Received.Count(d => PublishedCommands.Of(d).Any(c => ids.Contains(c.Command.EventId)));
        Assert.InRange(messages, 1, 39);
        Assert.All(commands.Where(c => !c.InBatch), c => Assert.Equal(c.Command.CommandId, c.MessageId));
    }

    [Fact]
    public async Task Should_send_a_command_alone_when_no_publish_is_in_flight()
    {
        await using var rules = await StartAsync();
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        var e = await FireAsync(rules, 1);

        var command = Assert.Single(await probe.WaitForCommandsAsync(c => c.EventId == e.EventId));
        Assert.False(command.InBatch);
        Assert.Equal(command.Command.CommandId, command.MessageId);
    }

    [Fact]
    public async Task Should_keep_a_batch_within_its_byte_bound()
    {
        // Each payload here is about 100 bytes as the sender holds it (UTF-16): two would be over 150, so one per message.
        await using var rules = await StartAsync(new() { ["Outbox:MaxBatchBytes"] = "150" });
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        var e = await FireAsync(rules, 6);
        await probe.WaitForCommandsAsync(c => c.EventId == e.EventId, 6);
        await Eventually.TrueAsync(async () => await OutboxRowsAsync() == 0, "the published rows are deleted");
        await probe.CatchUpAsync();

        var carrying = probe.Received.Where(d => PublishedCommands.Of(d).Any(c => c.Command.EventId == e.EventId)).ToList();
        Assert.Equal(6, carrying.Count);
        Assert.All(carrying, d => Assert.Single(PublishedCommands.Of(d)));
    }

    [Fact]
    public async Task Should_send_every_command_alone_when_batching_is_off()
    {
        await using var rules = await StartAsync(new() { ["Outbox:Batch"] = "false" });
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        var e = await FireAsync(rules, 10);
        var commands = await probe.WaitForCommandsAsync(c => c.EventId == e.EventId, 10);
        await Eventually.TrueAsync(async () => await OutboxRowsAsync() == 0, "the published rows are deleted");
        await probe.CatchUpAsync();

        Assert.Equal(10, probe.Commands().Count(c => c.Command.EventId == e.EventId));
        Assert.DoesNotContain(probe.Commands(), c => c.Command.EventId == e.EventId && c.InBatch);
    }
}

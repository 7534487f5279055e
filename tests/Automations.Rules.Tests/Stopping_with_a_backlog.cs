using System.Net;
using System.Net.Sockets;
using Automations.Rules.Runs;
using Automations.ServiceDefaults;
using Automations.Testing;
using Dapper;
using MassTransit;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

/// <summary>Rules is started and stopped by each test, never by the fixture.</summary>
public sealed class StoppedRulesFixture : RulesFixture
{
    protected override bool StartsRules => false;
}

/// <summary>
/// A service that stops (SIGTERM, a deploy) or fails to start while its queue holds a backlog gives back what it has
/// not finished: nothing lands in an _error queue because of the stop, and after a restart every message is handled once.
/// </summary>
public class Stopping_with_a_backlog(StoppedRulesFixture fx) : IClassFixture<StoppedRulesFixture>
{
    private const int Backlog = 400;
    private const string Queue = ArtifactEventConsumerDefinition.Queue;

    [Fact]
    public async Task Should_give_the_backlog_back_when_the_start_fails_after_the_bus_started()
    {
        var project = await AutomationWithQueuesAsync();
        var events = await PublishAsync(project, Backlog);

        // The start fails on Kestrel's port, after the bus has started consuming: what an instance starting while the old
        // one still holds the port does.
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var args = Args(fx.ServiceConfiguration(), $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}");
        MassTransit.LogContext.Current = null;
        await Assert.ThrowsAnyAsync<IOException>(() => Program.Main(args));

        Assert.Equal(0u, await ErrorQueueDepthAsync());
        await AssertEachHandledOnceAfterARestartAsync(events);
    }

    [Fact]
    public async Task Should_give_back_the_messages_waiting_for_the_database_when_stopped()
    {
        var project = await AutomationWithQueuesAsync();
        var postgres = new NpgsqlConnectionStringBuilder(fx.PostgresConnectionString);
        await using var proxy = new TcpProxy(postgres.Host!, postgres.Port);
        var viaProxy = fx.ServiceConfiguration();
        viaProxy["ConnectionStrings:Postgres"] = new NpgsqlConnectionStringBuilder(fx.PostgresConnectionString) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString;
        ServiceHost? rules = await ServiceHost.StartAsync(Program.Build, viaProxy);
        try
        {
            // One event first: the automations of the project are cached, the backlog needs the database only to write.
            var events = await PublishAsync(project, 1);
            await Eventually.TrueAsync(async () => await HandledAsync() == 1, "Rules handled the first event");

            // The database goes away: the messages in flight wait in the transient retry (~31 s in all), longer than the
            // whole stop may take. The stop cancels them; cancelled, they are not consumed and go back to the queue.
            proxy.Cut();
            events.AddRange(await PublishAsync(project, Backlog));
            await Eventually.TrueAsync(() => Task.FromResult(proxy.Refused > 0), "a consumer tried the database and failed");
            await rules.DisposeAsync();
            rules = null;

            Assert.Equal(0u, await ErrorQueueDepthAsync());
            await AssertEachHandledOnceAfterARestartAsync(events);
        }
        finally
        {
            if (rules is not null) await rules.DisposeAsync();
        }
    }

    /// <summary>A webhook automation on a new project; Rules started once and stopped, so its queues and bindings exist.</summary>
    private async Task<string> AutomationWithQueuesAsync()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        await (await fx.StartRulesAsync()).DisposeAsync();
        await PurgeAsync();
        return project;
    }

    /// <summary>From a bus of the test's own (queued when no Rules runs); the events' ids.</summary>
    private async Task<List<Guid>> PublishAsync(string project, int count)
    {
        var settings = RabbitMqSettings.Parse(fx.RabbitMqConnectionString);
        MassTransit.LogContext.Current = null;
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(settings.Host, settings.Port, settings.VirtualHost, h =>
        {
            h.Username(settings.Username);
            h.Password(settings.Password);
        }));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await bus.StartAsync(cts.Token);
        try
        {
            var events = Enumerable.Range(0, count).Select(_ => Event(project)).ToList();
            await Task.WhenAll(events.Select(e => bus.Publish(e, cts.Token)));
            return events.Select(e => e.EventId).ToList();
        }
        finally
        {
            await bus.StopAsync(CancellationToken.None);
        }
    }

    private async Task AssertEachHandledOnceAfterARestartAsync(List<Guid> events)
    {
        await using var rules = await fx.StartRulesAsync();
        await Eventually.TrueAsync(async () => await HandledAsync() >= events.Count, $"Rules handled all {events.Count} events", TimeSpan.FromSeconds(90));
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var runs = await c.QuerySingleAsync<RunCounts>(
            "select count(*) as Runs, count(distinct event_id) as Events from rules.runs where event_id = any(@events)", new { events = events.ToArray() });
        Assert.Equal(new RunCounts(events.Count, events.Count), runs);
        Assert.Equal(events.Count, await HandledAsync());
        Assert.Equal(0u, await ErrorQueueDepthAsync());
    }

    private sealed record RunCounts(long Runs, long Events);

    private async Task<int> HandledAsync()
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<int>("select count(*) from rules.inbox where consumer = @Queue", new { Queue });
    }

    /// <summary>Exact, unlike the management API's sampled counts; a queue never declared holds nothing.</summary>
    private async Task<uint> ErrorQueueDepthAsync()
    {
        await using var connection = await new ConnectionFactory { Uri = new Uri(fx.RabbitMqConnectionString) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(Queue + "_error")).MessageCount;
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
        {
            return 0;
        }
    }

    /// <summary>Each test counts its own: the inbox, the queue and its error queue start empty.</summary>
    private async Task PurgeAsync()
    {
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("delete from rules.inbox where consumer = @Queue", new { Queue });
        await using var connection = await new ConnectionFactory { Uri = new Uri(fx.RabbitMqConnectionString) }.CreateConnectionAsync();
        await using (var channel = await connection.CreateChannelAsync())
            await channel.QueuePurgeAsync(Queue);
        await using (var channel = await connection.CreateChannelAsync())
        {
            try { await channel.QueuePurgeAsync(Queue + "_error"); }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404) { }
        }
    }

    private static string[] Args(IDictionary<string, string?> configuration, string url) =>
        configuration
            .Where(kv => kv.Value is not null)
            .Select(kv => $"--{kv.Key}={kv.Value}")
            .Append($"--urls={url}")
            .Append("--environment=Testing")
            .ToArray();
}

using System.Net.Http.Json;
using System.Text.Json;
using Automations.Testing;
using Microsoft.AspNetCore.Builder;

namespace Automations.EndToEnd.Tests;

/// <summary>
/// The queues each service declares on the broker. A deployed broker holds these queues with messages in them: a renamed
/// endpoint would leave them behind unread, so a change here is a migration, never a refactoring.
/// </summary>
public class Naming_the_broker_queues : TestEnvironment
{
    private const string ReplicaId = "replica-1";

    /// <summary>Today's names, by the service that declares them.</summary>
    private static readonly (string Service, Func<string[], WebApplication> Build, string[] Queues)[] Expected =
    [
        ("api", Automations.Api.Program.Build, ["webhook-disabled"]),
        ("ingestion", Automations.Ingestion.Program.Build, ["ingestion-artifact-events"]),
        ("rules", Automations.Rules.Program.Build, ["automations-changed-" + ReplicaId, "rules-artifact-events", "rules-run-events", "rules-run-outcomes"]),
        ("webhook-sender", Automations.WebhookSender.Program.Build, ["redeliver-webhook", "send-webhook", "test-webhook", "webhook-incident-alerts"]),
        ("launch-enqueuer", Automations.LaunchEnqueuer.Program.Build, ["enqueue-launch-job"]),
    ];

    [Fact]
    public async Task Should_keep_every_endpoint_name_of_today()
    {
        var config = ServiceConfiguration();
        config["Rules:InstanceId"] = ReplicaId;
        var declared = new Dictionary<string, string[]>();
        var seen = new HashSet<string>();
        var hosts = new List<ServiceHost>();
        try
        {
            foreach (var (service, build, queues) in Expected)
            {
                hosts.Add(await ServiceHost.StartAsync(build, config));
                // The bus declared its queues before the host was ready; the management API may list them a moment later.
                // Past the deadline, what is there is compared (a missing queue then shows in the table).
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
                string[] added;
                while (true)
                {
                    added = [.. (await QueuesAsync()).Where(q => !seen.Contains(q)).Order(StringComparer.Ordinal)];
                    if (added.Length >= queues.Length || DateTime.UtcNow > deadline) break;
                    await Task.Delay(200);
                }
                declared[service] = added;
                seen.UnionWith(added);
            }
        }
        finally
        {
            foreach (var host in Enumerable.Reverse(hosts)) await host.DisposeAsync();
        }

        string Table(IEnumerable<(string Service, string[] Queues)> rows) =>
            string.Join("\n", rows.Select(r => $"{r.Service}: {string.Join(", ", r.Queues)}"));
        Assert.Equal(Table(Expected.Select(e => (e.Service, e.Queues))), Table(declared.Select(d => (d.Key, d.Value))));
    }

    /// <summary>The vhost's queues, less each bus's own reply queue (named per process, deleted with it).</summary>
    private async Task<string[]> QueuesAsync()
    {
        using var http = ManagementClient();
        var queues = await http.GetFromJsonAsync<JsonElement>($"api/queues/{VirtualHost}?columns=name");
        return [.. queues.EnumerateArray().Select(q => q.GetProperty("name").GetString()!).Where(n => !n.Contains("_bus_", StringComparison.Ordinal))];
    }
}

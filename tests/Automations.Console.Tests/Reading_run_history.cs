using System.Text.Json;
using Automations.Contracts;
using Automations.Persistence.Outbox;
using Automations.Testing;
using Dapper;
using OpenQA.Selenium;

namespace Automations.Console.Tests;

/// <summary>An automation's page: its runs, each delivery attempt's answer, and Redeliver (carried out by the real WebhookSender).</summary>
[Collection("browser")]
public class Reading_run_history(ConsoleFixture fx) : IClassFixture<ConsoleFixture>
{
    [Fact]
    public async Task Should_show_each_attempts_response_and_redeliver_it()
    {
        var path = "/history/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = "history hook", url = fx.Receiver.Url(path) });
        var automation = await fx.CreateAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name = "notify on new model",
            @event = new { type = "CREATE_ARTIFACT", collection = "mnist-model" },
            action = new { type = "webhook", webhook = "history hook", payload = """{"v":"${artifact_version_string}"}""" },
        });
        var automationId = automation.GetProperty("id").GetGuid();
        var webhookId = webhook.GetProperty("id").GetGuid();

        // What Rules records for a matched event, and the command it sends through its outbox (here the sender's, which relays it).
        var (runId, commandId, eventId) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var ev = JsonSerializer.Serialize(new { eventId, eventType = "CREATE_ARTIFACT", entity = "acme", project = "mnist", collection = "mnist-model", versionIndex = 3 });
        await using (var c = await fx.DataSource.OpenConnectionAsync())
        {
            await using var tx = await c.BeginTransactionAsync();
            await c.ExecuteAsync(
                """
                insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event, action_type, webhook_id, command_id, payload, status)
                values (@runId, @automationId, 'notify on new model', 'acme', 'mnist', @eventId, 'p-1', 'CREATE_ARTIFACT', @ev::jsonb, 'webhook', @webhookId, @commandId, '{"v":"mnist-model:v3"}', 'Enqueued')
                """, new { runId, automationId, eventId, ev, webhookId, commandId }, tx);
            await OutboxWriter.AddAsync(c, tx, "delivery", new SendWebhook(commandId, runId, eventId, automationId, "acme", "mnist", webhookId, """{"v":"mnist-model:v3"}""", DateTimeOffset.UtcNow), commandId);
            await tx.CommitAsync();
        }
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<string>("select status from delivery.deliveries where command_id = @commandId", new { commandId }) == "succeeded";
        }, "the delivery succeeded", TimeSpan.FromSeconds(30));

        var b = fx.Browser;
        b.SignIn(fx.AdminKey);
        var before = DateTimeOffset.UtcNow;
        b.Go($"/console/acme/projects/mnist/automations/{automationId}");
        Assert.Equal("notify on new model", b.Title);
        // How far back the history reaches: the default 30 days, since the day 30 days before the page was made.
        Assert.Contains(b.Text(".reach"), Reach(before, DateTimeOffset.UtcNow));
        var runs = b.Text("#runs");
        Assert.Contains("CREATE_ARTIFACT mnist-model:v3", runs);
        Assert.Contains("HTTP 201", runs);
        Assert.Contains("dispatched by the receiver", runs);
        b.Screenshot("automation-runs");

        b.ClickAndWait(b.Driver.FindElement(By.XPath("//table[@id='runs']//button[normalize-space()='Redeliver']")));
        Assert.Equal($"/console/acme/projects/mnist/automations/{automationId}", b.Path0);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count == 2), "the redelivery reached the receiver", TimeSpan.FromSeconds(30));
        Assert.All(fx.Receiver.On(path), r => Assert.Equal("""{"v":"mnist-model:v3"}""", r.BodyText));
    }

    /// <summary>The reach line for a page made between <paramref name="from"/> and <paramref name="to"/> (a day may turn in between).</summary>
    public static string[] Reach(DateTimeOffset from, DateTimeOffset to) =>
        new[] { from, to }.Select(t => $"History is kept for 30 days (since {(t - TimeSpan.FromDays(30)).ToString("d MMM yyyy", System.Globalization.CultureInfo.InvariantCulture)}).")
            .Distinct().ToArray();
}

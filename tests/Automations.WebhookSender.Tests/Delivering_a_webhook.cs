using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Automations.Contracts;
using Automations.Testing;
using Dapper;

namespace Automations.WebhookSender.Tests;

public class Delivering_a_webhook(SenderFixture fx) : IClassFixture<SenderFixture>
{
    private static string Path() => "/hook/" + Guid.NewGuid().ToString("N");

    private async Task<IReadOnlyList<Receiver.Request>> ReceivedAsync(string path, int count)
    {
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count >= count), $"{count} request(s) reached {path}");
        return fx.Receiver.On(path);
    }

    [Fact]
    public async Task Should_sign_the_exact_body_with_both_signatures_and_fill_in_secrets()
    {
        var path = Path();
        const string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: secret);
        await fx.AddSecretAsync("GH_PAT", "ghp_supersecret\"value");
        var command = SenderFixture.Command(webhook, """{"event_type":"ADD_ARTIFACT_ALIAS","auth":"token ${GH_PAT}","literal":"$${NOT_A_SECRET}"}""");
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(WebhookDeliveriesCompleted));
        await fx.PublishAsync(command);

        var request = (await ReceivedAsync(path, 1))[0];
        var delivery = await fx.WaitForStatusAsync(command.CommandId, "succeeded");

        using (var doc = JsonDocument.Parse(request.Body))
        {
            Assert.Equal("token ghp_supersecret\"value", doc.RootElement.GetProperty("auth").GetString());
            Assert.Equal("${NOT_A_SECRET}", doc.RootElement.GetProperty("literal").GetString());
        }
        Assert.Equal("application/json", request.Header("Content-Type"));
        Assert.Equal("Automations-Webhooks/1.0", request.Header("User-Agent"));
        Assert.Null(request.Header("Authorization"));
        Assert.Equal(delivery.Id.ToString(), request.Header("webhook-id"));
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", request.Header("traceparent"));

        // X-Wandb-Signature: base64(HMAC-SHA256(secret as UTF-8, body)), what `openssl dgst -sha256 -hmac "$SECRET" -binary | base64` gives.
        var wandb = Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), request.Body));
        Assert.Equal(wandb, request.Header("X-Wandb-Signature"));

        // Standard Webhooks: key = base64 after whsec_, content = "{id}.{timestamp}.{body}".
        var timestamp = long.Parse(request.Header("webhook-timestamp")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(timestamp, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var content = Encoding.UTF8.GetBytes($"{request.Header("webhook-id")}.{timestamp}.").Concat(request.Body).ToArray();
        var standard = "v1," + Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(secret["whsec_".Length..]), content));
        Assert.Equal(standard, request.Header("webhook-signature"));

        // Successes reach Rules in batches (WebhookDeliveriesCompleted): this one is in one of them.
        var batch = (await probe.WaitForAsync(d => d.As<WebhookDeliveriesCompleted>().Deliveries.Any(c => c.CommandId == command.CommandId)))[0];
        var completed = batch.As<WebhookDeliveriesCompleted>().Deliveries.Single(c => c.CommandId == command.CommandId);
        Assert.Equal(200, completed.StatusCode);
        Assert.Equal(1, completed.Attempts);
        Assert.Equal(delivery.Id, completed.DeliveryId);
    }

    /// <summary>A command rendered before secret references were sealed (no PayloadFormat, as an older Rules wrote it) is expanded as it was then.</summary>
    [Fact]
    public async Task Should_expand_a_sealed_payload_and_one_rendered_before_sealing_each_by_its_own_rules()
    {
        var sealedPath = Path();
        var legacyPath = Path();
        await fx.AddSecretAsync("FORMAT_VALUE", "v4lue");
        const string payload = """{"v":"$$5 ${FORMAT_VALUE} $${FORMAT_VALUE}"}""";
        var legacyJson = JsonSerializer.Serialize(SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(legacyPath)), payload));
        var legacy = JsonSerializer.Deserialize<SendWebhook>(legacyJson.Replace(",\"PayloadFormat\":2", "", StringComparison.Ordinal))!;
        Assert.Equal(SendWebhook.LegacyPayload, legacy.PayloadFormat);
        await fx.PublishAsync(SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(sealedPath)), payload));
        await fx.PublishAsync(legacy);

        using (var doc = JsonDocument.Parse((await ReceivedAsync(sealedPath, 1))[0].Body))
            Assert.Equal("$5 v4lue ${FORMAT_VALUE}", doc.RootElement.GetProperty("v").GetString());
        using (var doc = JsonDocument.Parse((await ReceivedAsync(legacyPath, 1))[0].Body))
            Assert.Equal("$$5 v4lue ${FORMAT_VALUE}", doc.RootElement.GetProperty("v").GetString());
    }

    [Fact]
    public async Task Should_send_a_bearer_token_only_when_the_webhook_has_one()
    {
        var withToken = Path();
        var without = Path();
        var a = await fx.AddWebhookAsync(fx.Receiver.Url(withToken), accessToken: "tok-123");
        var b = await fx.AddWebhookAsync(fx.Receiver.Url(without));
        await fx.PublishAsync(SenderFixture.Command(a));
        await fx.PublishAsync(SenderFixture.Command(b));

        Assert.Equal("Bearer tok-123", (await ReceivedAsync(withToken, 1))[0].Header("Authorization"));
        var plain = (await ReceivedAsync(without, 1))[0];
        Assert.Null(plain.Header("Authorization"));
        Assert.Null(plain.Header("X-Wandb-Signature"));
        Assert.Null(plain.Header("webhook-signature"));
        Assert.NotNull(plain.Header("webhook-id"));
    }

    [Fact]
    public async Task Should_retry_on_the_schedule_with_the_same_webhook_id_and_stop_on_success()
    {
        var path = Path();
        fx.Receiver.Respond(path, Receiver.FailFirst(2, 500));
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: "s3cr3t");
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);

        var delivery = await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        // Over for good (no claim, nothing scheduled): no fourth request can follow the success.
        Assert.True(await fx.SettledAsync(command.CommandId));
        var requests = fx.Receiver.On(path);
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal(delivery.Id.ToString(), r.Header("webhook-id")));
        // Schedule 1 s ±20 %: each retry waits at least 0.8 s.
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromSeconds(0.75), $"first retry after {requests[1].At - requests[0].At}");
        Assert.True(requests[2].At - requests[1].At >= TimeSpan.FromSeconds(0.75), $"second retry after {requests[2].At - requests[1].At}");

        var attempts = await fx.AttemptsAsync(delivery.Id);
        Assert.Equal([500, 500, 200], attempts.Select(a => a.StatusCode ?? 0));
        Assert.Equal([1, 2, 3], attempts.Select(a => a.Number));
        Assert.Equal("not yet", attempts[0].ResponseBody);
        Assert.Contains("Kestrel", attempts[0].ResponseHeaders!, StringComparison.Ordinal);
        Assert.NotNull(attempts[0].NextAttemptAt);
        Assert.Null(attempts[2].NextAttemptAt);
        Assert.Equal(3, delivery.Attempts);
    }

    [Fact]
    public async Task Should_fail_after_the_last_attempt_and_publish_the_failure()
    {
        var path = Path();
        fx.Receiver.Respond(path, Receiver.Status(500));
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var command = SenderFixture.Command(webhook);
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(WebhookDeliveryFailed));
        await fx.PublishAsync(command);

        var delivery = await fx.WaitForStatusAsync(command.CommandId, "failed");
        var failed = (await probe.WaitForAsync(d => d.As<WebhookDeliveryFailed>().CommandId == command.CommandId))[0].As<WebhookDeliveryFailed>();
        Assert.Equal(4, failed.Attempts);
        Assert.Equal(500, failed.StatusCode);
        Assert.Equal(4, delivery.Attempts);
        Assert.Equal(4, fx.Receiver.On(path).Count);
    }

    [Fact]
    public async Task Should_honour_retry_after_on_429()
    {
        var path = Path();
        fx.Receiver.Respond(path, (ctx, n) =>
        {
            ctx.Response.StatusCode = n == 1 ? 429 : 200;
            if (n == 1) ctx.Response.Headers.RetryAfter = "3";
            return Task.CompletedTask;
        });
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);

        var delivery = await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        var attempts = await fx.AttemptsAsync(delivery.Id);
        Assert.Equal(429, attempts[0].StatusCode);
        // The schedule says 1 s; Retry-After says 3 s.
        Assert.True(attempts[0].NextAttemptAt!.Value - attempts[0].StartedAt >= TimeSpan.FromSeconds(2.9));
        var requests = fx.Receiver.On(path);
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromSeconds(2.5), $"retried after {requests[1].At - requests[0].At}");
    }

    [Fact]
    public async Task Should_disable_the_webhook_on_410_and_fail_later_deliveries_at_once_until_it_is_updated()
    {
        var path = Path();
        fx.Receiver.Respond(path, Receiver.Status(410));
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        await using var disabled = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(WebhookDisabled));
        var first = SenderFixture.Command(webhook);
        await fx.PublishAsync(first);

        var delivery = await fx.WaitForStatusAsync(first.CommandId, "failed");
        Assert.Equal(1, delivery.Attempts);
        Assert.Equal(410, delivery.LastStatusCode);
        var message = (await disabled.WaitForAsync(d => d.As<WebhookDisabled>().WebhookId == webhook))[0].As<WebhookDisabled>();
        Assert.Equal("acme", message.Entity);
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(1, await c.ExecuteScalarAsync<int>("select count(*) from delivery.webhook_states where webhook_id = @webhook", new { webhook }));

        var second = SenderFixture.Command(webhook);
        await fx.PublishAsync(second);
        var blocked = await fx.WaitForStatusAsync(second.CommandId, "failed");
        Assert.Contains("disabled", blocked.LastError, StringComparison.Ordinal);
        Assert.Single(fx.Receiver.On(path));

        // An admin updates the webhook in the Api (updated_at moves past the disable): deliveries flow again
        // once the sender's short cache of the webhook (Webhooks:ControlCacheTtl, 2 s) has expired. Until then a
        // command still fails at once as disabled, without a request.
        fx.Receiver.Respond(path, Receiver.Status(200));
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("update control.webhooks set updated_at = now() where id = @webhook", new { webhook });
        var outcomes = new List<SenderFixture.DeliveryRow>();
        await Eventually.TrueAsync(async () =>
        {
            var next = SenderFixture.Command(webhook);
            await fx.PublishAsync(next);
            outcomes.Add(await fx.WaitForOutcomeAsync(next.CommandId));
            return outcomes[^1].Status == "succeeded";
        }, "a delivery to the updated webhook succeeds", TimeSpan.FromSeconds(30));
        Assert.All(outcomes.SkipLast(1), o => Assert.Contains("disabled", o.LastError, StringComparison.Ordinal));
        Assert.Equal(2, fx.Receiver.On(path).Count);
    }

    [Fact]
    public async Task Should_not_follow_a_redirect()
    {
        var path = Path();
        var target = Path();
        fx.Receiver.Respond(path, (ctx, _) =>
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.Location = fx.Receiver.Url(target);
            return Task.CompletedTask;
        });
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);

        var delivery = await fx.WaitForStatusAsync(command.CommandId, "failed");
        var attempts = await fx.AttemptsAsync(delivery.Id);
        Assert.Equal(4, attempts.Count);
        Assert.All(attempts, a => Assert.Equal(302, a.StatusCode));
        Assert.Contains("redirect not followed", attempts[0].Error, StringComparison.Ordinal);
        Assert.Empty(fx.Receiver.On(target));
    }

    [Fact]
    public async Task Should_send_nothing_twice_for_a_repeated_command()
    {
        var path = Path();
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var command = SenderFixture.Command(webhook);
        var (first, again) = (Guid.NewGuid(), Guid.NewGuid());
        await fx.PublishAsync(command, first);
        await fx.PublishAsync(command, again);
        await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        // Both copies handled (a second delivery would have been stored by then), and the one delivery over for good.
        await Eventually.TrueAsync(() => Task.FromResult(fx.Consumed.Count(first) == 1 && fx.Consumed.Count(again) == 1), "the sender consumed both copies");
        Assert.True(await fx.SettledAsync(command.CommandId));
        Assert.Single(fx.Receiver.On(path));
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<int>("select count(*) from delivery.deliveries where command_id = @CommandId", new { command.CommandId }));
    }

    [Fact]
    public async Task Should_resolve_a_host_name_and_connect_only_to_a_checked_address()
    {
        // The receiver's URL names this machine, which resolves to loopback: allow-listed in tests.
        var path = Path();
        Assert.Equal(LocalName.Value, new Uri(fx.Receiver.Url(path)).Host, ignoreCase: true);
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);
        await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        Assert.Single(fx.Receiver.On(path));
    }

    [Theory]
    [InlineData("127.0.0.1", "IP address literal")]
    [InlineData("[::1]", "IP address literal")]
    [InlineData("2130706433", "IP address literal")]
    [InlineData("localhost", "is localhost")]
    [InlineData("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "is localhost")]
    [InlineData("１２７.０.０.１", "IP address literal")]
    [InlineData("169.254.169.254", "IP address literal")]
    public async Task Should_refuse_a_stored_ip_literal_or_localhost_though_the_allow_list_contains_it(string host, string rule)
    {
        // Stored before the rule held, or by hand: the receiver answers on this address, and the allow-list admits loopback.
        var path = Path();
        var port = new Uri(fx.Receiver.Url(path)).Port;
        var webhook = await fx.AddWebhookAsync($"http://{host}:{port}{path}");
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);
        var delivery = await fx.WaitForStatusAsync(command.CommandId, "failed");
        Assert.Equal(1, delivery.Attempts);
        Assert.Contains("refused by the URL rule", delivery.LastError, StringComparison.Ordinal);
        Assert.Contains(rule, delivery.LastError, StringComparison.Ordinal);
        Assert.Empty(fx.Receiver.On(path));
    }

    [Fact]
    public async Task Should_keep_secret_values_out_of_the_attempt_log_and_the_logs()
    {
        var path = Path();
        fx.Receiver.Respond(path, Receiver.FailFirst(1, 503));
        var signing = "sign-" + Guid.NewGuid().ToString("N");
        var token = "tok-" + Guid.NewGuid().ToString("N");
        var value = "val-" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: signing, accessToken: token);
        await fx.AddSecretAsync("API_KEY_IN_BODY", value);
        var command = SenderFixture.Command(webhook, """{"key":"${API_KEY_IN_BODY}"}""");
        await fx.PublishAsync(command);

        var delivery = await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        Assert.Contains(value, fx.Receiver.On(path)[0].BodyText, StringComparison.Ordinal);

        await using var c = await fx.DataSource.OpenConnectionAsync();
        var stored = string.Join("\n",
            await c.QueryAsync<string>("select d::text from delivery.deliveries d where id = @Id", new { delivery.Id }))
            + string.Join("\n", await c.QueryAsync<string>("select a::text from delivery.attempts a where delivery_id = @Id", new { delivery.Id }));
        Assert.Contains("${API_KEY_IN_BODY}", stored, StringComparison.Ordinal);
        Assert.Contains("503", stored, StringComparison.Ordinal);
        var logs = LogCapture.Text;
        Assert.Contains(delivery.Id.ToString(), logs, StringComparison.Ordinal);
        foreach (var s in new[] { signing, token, value })
        {
            Assert.DoesNotContain(s, stored, StringComparison.Ordinal);
            Assert.DoesNotContain(s, logs, StringComparison.Ordinal);
        }
    }
}

/// <summary>A replica died holding a claim (its lease ran out): the scheduler of a live replica takes the delivery over.</summary>
public class Taking_over_from_a_dead_replica(SenderFixture fx) : IClassFixture<SenderFixture>
{
    [Fact]
    public async Task Should_deliver_once_the_dead_replicas_claim_has_run_out()
    {
        var path = "/dead/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var command = SenderFixture.Command(webhook);
        var id = Guid.NewGuid();
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync(
                """
                insert into delivery.deliveries (id, command_id, run_id, event_id, automation_id, entity, project, webhook_id, payload, status,
                    attempts, max_attempts, next_attempt_at, claim, occurred_at)
                values (@id, @CommandId, @RunId, @EventId, @AutomationId, 'acme', 'mnist', @WebhookId, @Payload, 'pending',
                    1, 4, now() - interval '1 second', gen_random_uuid(), now())
                """, new { id, command.CommandId, command.RunId, command.EventId, command.AutomationId, command.WebhookId, command.Payload });

        var done = await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        Assert.Equal(2, done.Attempts);
        Assert.Equal(id.ToString(), Assert.Single(fx.Receiver.On(path)).Header("webhook-id"));
        Assert.Equal([2], (await fx.AttemptsAsync(id)).Select(a => a.Number));
    }
}

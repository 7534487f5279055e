using Microsoft.AspNetCore.Http;
using Automations.Contracts;
using Automations.ServiceDefaults;
using Dapper;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

using Automations.Testing;

namespace Automations.WebhookSender.Tests;

/// <summary>TestWebhook -> WebhookTestResult over the bus, as the Api asks it: one request, nothing stored, secrets masked.</summary>
public class Testing_a_webhook(SenderFixture fx) : IClassFixture<SenderFixture>
{
    private Task<WebhookTestResult> AskAsync(TestWebhook request) => AskAsync(fx, request);

    /// <summary>Asks the fixture's sender over the bus, as the Api does.</summary>
    internal static async Task<WebhookTestResult> AskAsync(SenderFixture fx, TestWebhook request)
    {
        MassTransit.LogContext.Current = null;
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(fx.ServiceConfiguration());
        builder.AddAutomationsBus();
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var client = host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<TestWebhook>(RequestTimeout.After(s: 30));
            return (await client.GetResponse<WebhookTestResult>(request)).Message;
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Should_answer_with_the_endpoint_response_and_the_masked_request()
    {
        var path = "/test/" + Guid.NewGuid().ToString("N");
        fx.Receiver.Respond(path, async (ctx, _) =>
        {
            ctx.Response.StatusCode = 201;
            ctx.Response.Headers["X-Receiver"] = "yes";
            await ctx.Response.WriteAsync("created");
        });
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: "sign-xyz", accessToken: "tok-xyz");
        await fx.AddSecretAsync("TEST_VALUE", "value-xyz");

        var result = await AskAsync(new TestWebhook(webhook, "acme", """{"v":"${TEST_VALUE}"}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal(201, result.StatusCode);
        Assert.Equal("created", result.ResponseBody);
        Assert.Equal("yes", result.ResponseHeaders["X-Receiver"]);
        Assert.Equal(fx.Receiver.Url(path), result.RequestUrl);
        Assert.Equal("Bearer ********", result.RequestHeaders["Authorization"]);
        Assert.Equal("""{"v":"********"}""", result.RequestBody);
        var sent = Assert.Single(fx.Receiver.On(path));
        Assert.Equal("""{"v":"value-xyz"}""", sent.BodyText);
        Assert.Equal(sent.Header("X-Wandb-Signature"), result.RequestHeaders["X-Wandb-Signature"]);
        Assert.DoesNotContain("xyz", string.Join(",", result.RequestHeaders.Values) + result.RequestBody, StringComparison.Ordinal);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from delivery.deliveries where webhook_id = @webhook", new { webhook }));
    }

    [Fact]
    public async Task Should_report_a_refused_address_without_sending()
    {
        var webhook = await fx.AddWebhookAsync("http://169.254.169.254/latest/meta-data/");
        var result = await AskAsync(new TestWebhook(webhook, "acme", """{"a":1}"""));
        Assert.False(result.Success);
        Assert.Null(result.StatusCode);
        Assert.Contains("IP address literal", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_not_test_another_teams_webhook()
    {
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url("/never"));
        var result = await AskAsync(new TestWebhook(webhook, "globex", """{"a":1}"""));
        Assert.False(result.Success);
        Assert.Empty(fx.Receiver.On("/never"));
    }
}

public class LongCacheFixture : SenderFixture
{
    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Webhooks:ControlCacheTtl"] = "00:10:00";
        return config;
    }
}

/// <summary>
/// The sender keeps what it knows of a webhook for deliveries (here for ten minutes); a webhook test reads the webhook as
/// just saved, so an admin who changes the URL tests the new one.
/// </summary>
public class Testing_a_webhook_just_saved(LongCacheFixture fx) : IClassFixture<LongCacheFixture>
{
    [Fact]
    public async Task Should_test_the_webhook_as_just_saved()
    {
        var before = "/saved-before/" + Guid.NewGuid().ToString("N");
        var after = "/saved-after/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(before));
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);
        await fx.WaitForStatusAsync(command.CommandId, "succeeded");

        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("update control.webhooks set url = @url, updated_at = now() where id = @webhook", new { url = fx.Receiver.Url(after), webhook });
        var result = await Testing_a_webhook.AskAsync(fx, new TestWebhook(webhook, "acme", """{"a":1}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal(fx.Receiver.Url(after), result.RequestUrl);
        Assert.Single(fx.Receiver.On(after));
        Assert.Single(fx.Receiver.On(before));
    }
}

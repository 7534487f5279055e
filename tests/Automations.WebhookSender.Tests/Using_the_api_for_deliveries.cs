using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automations.Persistence.Control;
using Automations.Testing;

namespace Automations.WebhookSender.Tests;

public class ApiAndSenderFixture : SenderFixture
{
    public ServiceHost Api { get; private set; } = null!;
    public string OtherTeamKey { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        OtherTeamKey = (await Bootstrap.CreateEntityWithAdminAsync(DataSource, "globex", "boss")).ApiKey;
        Api = await ServiceHost.StartAsync(Automations.Api.Program.Build, ServiceConfiguration());
    }

    public override async Task DisposeAsync()
    {
        if (Api is not null) await Api.DisposeAsync();
        await base.DisposeAsync();
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, string? key = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key ?? AdminKey);
        return await Api.Client.SendAsync(request);
    }
}

/// <summary>The Api's side: test a webhook (over the bus, answered by the sender), read a delivery's attempts, redeliver.</summary>
public class Using_the_api_for_deliveries(ApiAndSenderFixture fx) : IClassFixture<ApiAndSenderFixture>
{
    [Fact]
    public async Task Should_test_a_webhook_and_show_the_masked_request()
    {
        var path = "/api-test/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: "s3cr3t", accessToken: "tok-api");
        using var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/test", """{"hello":"world"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(doc.RootElement.GetProperty("success").GetBoolean());
        Assert.Equal(200, doc.RootElement.GetProperty("statusCode").GetInt32());
        Assert.Equal("Bearer ********", doc.RootElement.GetProperty("requestHeaders").GetProperty("Authorization").GetString());
        Assert.Equal("Bearer tok-api", Assert.Single(fx.Receiver.On(path)).Header("Authorization"));
    }

    [Fact]
    public async Task Should_refuse_a_body_that_is_not_json_naming_the_payload()
    {
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url("/never"));
        using var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/test", "not json");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("payload", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_hide_a_team_from_another_teams_key()
    {
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url("/never"));
        using var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/test", "{}", fx.OtherTeamKey);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var anonymous = await fx.Api.Client.PostAsync($"/v1/entities/acme/webhooks/{webhook}/test", JsonContent.Create(new { }));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Should_show_the_attempts_and_redeliver_a_failed_delivery()
    {
        var path = "/api-redeliver/" + Guid.NewGuid().ToString("N");
        fx.Receiver.Respond(path, Receiver.FailFirst(4, 500));
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);
        var failed = await fx.WaitForStatusAsync(command.CommandId, "failed");

        using (var get = await fx.SendAsync(HttpMethod.Get, $"/v1/entities/acme/deliveries/{failed.Id}"))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            using var doc = JsonDocument.Parse(await get.Content.ReadAsStringAsync());
            Assert.Equal("failed", doc.RootElement.GetProperty("status").GetString());
            var log = doc.RootElement.GetProperty("attemptLog");
            Assert.Equal(4, log.GetArrayLength());
            Assert.Equal(500, log[0].GetProperty("statusCode").GetInt32());
            Assert.Equal("not yet", log[0].GetProperty("responseBody").GetString());
        }

        using (var redeliver = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/deliveries/{failed.Id}/redeliver"))
            Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);
        var done = await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        Assert.Equal(5, done.Attempts);

        using var list = await fx.SendAsync(HttpMethod.Get, $"/v1/entities/acme/webhooks/{webhook}/deliveries?status=succeeded");
        using var listed = JsonDocument.Parse(await list.Content.ReadAsStringAsync());
        Assert.Equal(failed.Id, listed.RootElement[0].GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Should_redeliver_the_failed_deliveries_of_a_webhook_in_a_range()
    {
        var path = "/api-range/" + Guid.NewGuid().ToString("N");
        fx.Receiver.Respond(path, Receiver.FailFirst(4, 500));
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);
        await fx.WaitForStatusAsync(command.CommandId, "failed");

        using (var bad = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/redeliver-failed?from=yesterday"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("from", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        var from = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("O"));
        using var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/redeliver-failed?from={from}");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(1, doc.RootElement.GetProperty("deliveries").GetInt32());
        await fx.WaitForStatusAsync(command.CommandId, "succeeded");
    }
}
